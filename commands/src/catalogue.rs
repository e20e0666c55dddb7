//! The command spec as data for the platforms that register commands up
//! front (see `neutral::catalogue`); each adapter shapes it for its API.

use crate::spec::{self, ArgKind, ArgSpec, CommandSpec};
use neutral::{ArgInfo, ArgType, CommandInfo};

/// Every command, in the spec's order.
pub fn catalogue() -> Vec<CommandInfo> {
    spec::COMMANDS.iter().map(command).collect()
}

fn command(c: &CommandSpec) -> CommandInfo {
    CommandInfo {
        name: c.name.to_string(),
        summary: c.summary.to_string(),
        args: c.args.iter().map(arg).collect(),
        subcommands: c.subcommands.iter().map(command).collect(),
    }
}

fn arg(a: &ArgSpec) -> ArgInfo {
    let kind = match a.kind {
        ArgKind::TaskId => ArgType::TaskId,
        ArgKind::Switch => ArgType::Switch,
        ArgKind::Choice(choices) => {
            ArgType::Choice(choices.iter().map(|c| c.to_string()).collect())
        }
        ArgKind::Text { max_chars } => ArgType::Text { max_chars },
        ArgKind::Word => ArgType::Word,
        // A person is text, not a platform's user picker: it may name an
        // agent or `auto`, which no picker can offer.
        ArgKind::Who { .. } | ArgKind::Date | ArgKind::List => ArgType::Other,
    };
    ArgInfo {
        name: a.name.to_string(),
        help: a.help.to_string(),
        required: a.required,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_follows_the_spec() {
        let list = catalogue();
        assert_eq!(list.len(), spec::COMMANDS.len());
        let task = &list[0];
        assert_eq!(task.name, "task");
        let new = &task.subcommands[0];
        assert_eq!(new.name, "new");
        assert_eq!(new.args[0].kind, ArgType::Text { max_chars: 200 });
        assert!(new.args[0].required);
    }
}
