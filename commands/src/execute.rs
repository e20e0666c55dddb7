//! The entry points for chat: run a line of text ([`execute`]) or a button
//! press ([`press`]) for a platform user, and say what happened.

use crate::backend::Backend;
use crate::decisions::{self, decision_message};
use crate::error::{CommandError, ParseError, ServiceError};
use crate::help;
use crate::message::{Reply, RichMessage, Visibility};
use crate::model::{Actor, ButtonAction, DecisionOutcome, Event, Person, TaskFilter, TaskStatus};
use crate::parse::parse;
use crate::questions::{self, AnswerVia};
use crate::render;
use crate::roles;
use crate::service::{self, AssignResult, AssignTo, MoveTarget, TaskDraft};
use crate::spec::{AssignTarget, Command, MoveVerb};
use crate::who;
use chrono::Utc;
use routing::ChannelKind;

/// Where a command came from. `user_id` is the platform's immutable user ID
/// (never a display name or username).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub platform: ChannelKind,
    pub user_id: String,
    pub chat_id: String,
    /// This bot's username, to ignore `/cmd@otherbot` in group chats.
    pub bot_username: Option<String>,
}

impl Context {
    /// The audit `source` of changes made from this context.
    pub fn source(&self) -> String {
        format!(
            "{} user {} in chat {}",
            self.platform, self.user_id, self.chat_id
        )
    }
}

/// What happened, so the hub can reply, audit and follow up.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The command ran. `events` are follow-ups: send a new decision to its
    /// approvers, edit every copy of a resolved one, post task updates.
    Done { reply: Reply, events: Vec<Event> },
    /// Refused or failed; nothing was changed by the refused step. `error`
    /// says why (see [`CommandError::is_forbidden`] for permission refusals).
    Rejected { reply: Reply, error: CommandError },
    /// The sender is not a known person. Reply politely and audit the attempt.
    UnknownUser {
        reply: Reply,
        platform: ChannelKind,
        user_id: String,
    },
    /// Addressed to another bot (`/task@otherbot`): say nothing.
    NotForUs,
}

impl Outcome {
    /// The reply to send, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Outcome::Done { reply, .. }
            | Outcome::Rejected { reply, .. }
            | Outcome::UnknownUser { reply, .. } => Some(reply),
            Outcome::NotForUs => None,
        }
    }

    pub fn events(&self) -> &[Event] {
        match self {
            Outcome::Done { events, .. } => events,
            _ => &[],
        }
    }
}

/// How many tasks `task list` shows.
const LIST_MAX: usize = 25;

/// Run one line of chat input for the user in `ctx`.
pub async fn execute<B: Backend + ?Sized>(backend: &B, ctx: &Context, input: &str) -> Outcome {
    let parsed = parse(input, ctx.bot_username.as_deref());
    if let Err(ParseError::NotForUs { .. }) = parsed {
        return Outcome::NotForUs;
    }
    // Identity before the parse result: an unknown user learns nothing else.
    let person = match identify(backend, ctx).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let command = match parsed {
        Ok(c) => c,
        Err(e) => return rejected(e.into()),
    };
    let actor = Actor::person(person.clone(), ctx.source());
    let result = async {
        if let Some(spec) = command.spec() {
            roles::require_access(&actor, command.path(), spec.access)?;
        }
        run(backend, ctx, &actor, &person, command).await
    }
    .await;
    match result {
        Ok((reply, events)) => Outcome::Done { reply, events },
        Err(error) => rejected(error),
    }
}

/// Run a button press. The token maps server-side to an action; the same
/// permission rules apply as for the equivalent command.
pub async fn press<B: Backend + ?Sized>(backend: &B, ctx: &Context, token: &str) -> Outcome {
    let person = match identify(backend, ctx).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let action = match backend.button_action(token).await {
        Ok(Some(a)) => a,
        Ok(None) => return rejected(CommandError::UnknownButton),
        Err(e) => return rejected(ServiceError::Backend(e).into()),
    };
    let actor = Actor::person(person, ctx.source());
    let (id, outcome) = match action {
        ButtonAction::Approve { decision_id } => (decision_id, DecisionOutcome::Approve),
        ButtonAction::Deny { decision_id } => (decision_id, DecisionOutcome::Deny),
        ButtonAction::Answer {
            question_id,
            option,
        } => return press_answer(backend, &actor, question_id, Some(option)).await,
        ButtonAction::ApproveDraft { question_id } => {
            return press_answer(backend, &actor, question_id, None).await;
        }
        ButtonAction::EditDraft { question_id } => {
            return match questions::draft_to_edit(backend, &actor, question_id).await {
                Ok(message) => Outcome::Done {
                    reply: private(message),
                    events: Vec::new(),
                },
                Err(e) => rejected(e.into()),
            };
        }
    };
    // Buttons carry no text, so a denial by button has no reason; the
    // `deny` command requires one.
    match decisions::resolve_decision(backend, &actor, id, outcome, None).await {
        Ok(d) => {
            let verb = match outcome {
                DecisionOutcome::Approve => "approved",
                DecisionOutcome::Deny => "denied",
            };
            let reply = Reply {
                message: RichMessage::text(format!("You {verb} decision #{}.", d.id)),
                visibility: Visibility::Ephemeral,
                is_error: false,
                secret: false,
            };
            Outcome::Done {
                reply,
                events: vec![Event::DecisionResolved(d)],
            }
        }
        Err(e) => rejected(e.into()),
    }
}

/// A chat reply to a question's message: the reply's text is the answer.
pub async fn answer_by_reply<B: Backend + ?Sized>(
    backend: &B,
    ctx: &Context,
    question_id: i64,
    text: &str,
) -> Outcome {
    let person = match identify(backend, ctx).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let actor = Actor::person(person, ctx.source());
    match questions::answer_question(backend, &actor, question_id, text, AnswerVia::Reply).await {
        Ok(q) => Outcome::Done {
            reply: private(RichMessage::text(format!(
                "You answered question #{}.",
                q.id
            ))),
            events: vec![Event::QuestionAnswered(q)],
        },
        Err(e) => rejected(e.into()),
    }
}

/// A question's option button (`Some(option)`) or its draft's Approve
/// button (`None`): the option's label or the draft is the answer.
async fn press_answer<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    question_id: i64,
    option: Option<u32>,
) -> Outcome {
    let q = match backend.question(question_id).await {
        Ok(Some(q)) => q,
        Ok(None) => return rejected(ServiceError::QuestionNotFound(question_id).into()),
        Err(e) => return rejected(ServiceError::Backend(e).into()),
    };
    let text = match option {
        Some(i) => q.options.get(i as usize).cloned(),
        None => q.draft.clone(),
    };
    let Some(text) = text else {
        return rejected(CommandError::UnknownButton);
    };
    match questions::answer_question(backend, actor, question_id, &text, AnswerVia::Button).await {
        Ok(q) => Outcome::Done {
            reply: Reply {
                message: RichMessage::text(format!("You answered question #{}: {text}", q.id)),
                visibility: Visibility::Ephemeral,
                is_error: false,
                secret: false,
            },
            events: vec![Event::QuestionAnswered(q)],
        },
        Err(e) => rejected(e.into()),
    }
}

async fn identify<B: Backend + ?Sized>(backend: &B, ctx: &Context) -> Result<Person, Outcome> {
    match backend.person_by_platform(ctx.platform, &ctx.user_id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Outcome::UnknownUser {
            reply: Reply::error(format!(
                "I don't know you yet — ask an admin to add your {} ID {} to orkhub.",
                ctx.platform, ctx.user_id
            )),
            platform: ctx.platform,
            user_id: ctx.user_id.clone(),
        }),
        Err(e) => Err(rejected(ServiceError::Backend(e).into())),
    }
}

fn rejected(error: CommandError) -> Outcome {
    Outcome::Rejected {
        reply: Reply::error(error.user_message()),
        error,
    }
}

fn public(message: RichMessage) -> Reply {
    Reply::ok(message)
}

fn private(message: RichMessage) -> Reply {
    Reply {
        message,
        visibility: Visibility::Ephemeral,
        is_error: false,
        secret: false,
    }
}

type Ran = Result<(Reply, Vec<Event>), CommandError>;

async fn run<B: Backend + ?Sized>(
    backend: &B,
    ctx: &Context,
    actor: &Actor,
    me: &Person,
    command: Command,
) -> Ran {
    match command {
        Command::TaskNew {
            title,
            priority,
            assignee,
            project,
            due,
            capabilities,
        } => {
            let assignee = match assignee {
                Some(w) => Some(who::resolve(backend, ctx.platform, me, &w).await?),
                None => None,
            };
            let draft = TaskDraft {
                title,
                priority,
                project,
                assignee,
                due,
                capabilities,
            };
            let task = service::create_task(backend, actor, draft).await?;
            let reply = public(render::task_message(
                format!("Created task #{}", task.id),
                &task,
            ));
            Ok((reply, vec![Event::TaskChanged(task)]))
        }
        Command::TaskAssign { id, to } => {
            let to = match to {
                AssignTarget::Auto => AssignTo::Auto,
                AssignTarget::Who(w) => {
                    AssignTo::Assignee(who::resolve(backend, ctx.platform, me, &w).await?)
                }
            };
            assign(backend, actor, id, to).await
        }
        Command::TaskMove { id, verb, note } => {
            let target = match verb {
                MoveVerb::Start => MoveTarget::To(TaskStatus::InProgress),
                MoveVerb::Review => MoveTarget::To(TaskStatus::Review),
                MoveVerb::Done => MoveTarget::To(TaskStatus::Completed),
                MoveVerb::Block => MoveTarget::To(TaskStatus::Blocked),
                MoveVerb::Unblock => MoveTarget::Unblock,
            };
            let r = service::move_task(backend, actor, id, target, note).await?;
            let mut text = format!(
                "Task #{} \"{}\": {} → {}.",
                r.task.id, r.task.title, r.from, r.task.status
            );
            for p in &r.promoted {
                text.push_str(&format!("\n#{} \"{}\" is now ready.", p.id, p.title));
            }
            let mut events = vec![Event::TaskChanged(r.task)];
            events.extend(r.promoted.into_iter().map(Event::TaskChanged));
            Ok((public(RichMessage::text(text)), events))
        }
        Command::TaskDep { id, needs } => {
            let r = service::add_dependency(backend, actor, id, needs).await?;
            let mut text = format!(
                "Task #{} \"{}\" now needs #{} \"{}\" ({}).",
                r.task.id, r.task.title, r.needs.id, r.needs.title, r.needs.status
            );
            let mut events = Vec::new();
            if let Some(p) = r.promoted {
                text.push_str(&format!(
                    "\nEverything it needs is done, so #{} is ready.",
                    p.id
                ));
                events.push(Event::TaskChanged(p));
            }
            Ok((public(RichMessage::text(text)), events))
        }
        Command::TaskList {
            mine,
            status,
            project,
        } => {
            let filter = TaskFilter {
                assignee: mine.then(|| crate::model::Assignee::Person(me.id.clone())),
                status,
                project,
                include_completed: false,
                limit: LIST_MAX as u32 + 1,
            };
            let tasks = service::list_tasks(backend, actor, &filter).await?;
            Ok((private(render::task_list(&tasks, LIST_MAX)), Vec::new()))
        }
        Command::TaskShow { id } => {
            let (task, deps) = service::show_task(backend, actor, id).await?;
            let mut m = render::task_message(format!("Task #{}", task.id), &task);
            if !deps.is_empty() {
                let list: Vec<String> = deps
                    .iter()
                    .map(|d| format!("#{} {} ({})", d.id, d.title, d.status))
                    .collect();
                m = m.with_field("Needs", list.join("; "));
            }
            Ok((private(m), Vec::new()))
        }
        Command::Decisions => {
            let pending = backend
                .pending_decisions()
                .await
                .map_err(ServiceError::from)?;
            Ok((private(render::pending_decisions(&pending)), Vec::new()))
        }
        Command::Approve { id, reason } => {
            resolve(backend, actor, id, DecisionOutcome::Approve, reason).await
        }
        Command::Deny { id, reason } => {
            resolve(backend, actor, id, DecisionOutcome::Deny, Some(reason)).await
        }
        Command::Answer { id, text } => {
            let q =
                questions::answer_question(backend, actor, id, &text, AnswerVia::Command).await?;
            let reply = private(RichMessage::text(format!(
                "You answered question #{}.",
                q.id
            )));
            Ok((reply, vec![Event::QuestionAnswered(q)]))
        }
        Command::Brief => {
            let m = backend.brief(me).await.map_err(ServiceError::from)?;
            Ok((private(m), Vec::new()))
        }
        Command::Cost { period, by } => {
            let since = period.since(Utc::now());
            let lines = backend
                .cost_summary(since, by)
                .await
                .map_err(ServiceError::from)?;
            Ok((private(render::cost(period, by, &lines)), Vec::new()))
        }
        Command::Whoami => {
            let m = RichMessage::titled(
                format!("You are {}", me.display_name),
                format!("Handle `{}`, role {}.", me.id, me.role),
            )
            .with_field(
                "Signed in as",
                format!("{} user {}", ctx.platform, ctx.user_id),
            );
            Ok((private(m), Vec::new()))
        }
        Command::Login => {
            // The link is a credential: only ever in a private answer.
            // Telegram has no message only one member of a group sees:
            // there, the link is given in the bot's private chat only.
            if ctx.platform == ChannelKind::Telegram && ctx.chat_id != ctx.user_id {
                let m = RichMessage::text(
                    "Send /login to me in a private chat: a login link is not for a group.",
                );
                return Ok((private(m), Vec::new()));
            }
            let Some(url) = backend.login_link(me).await.map_err(ServiceError::from)? else {
                return Err(ServiceError::Invalid(
                    "The web console is not enabled on this hub ([adapters.web] enabled = false)."
                        .into(),
                )
                .into());
            };
            let m = RichMessage::titled(
                "Your web console link",
                format!("{url}\nIt works once and expires in a few minutes. Do not forward it."),
            );
            let reply = Reply {
                secret: true,
                ..private(m)
            };
            Ok((reply, Vec::new()))
        }
        Command::Help { topic } => {
            let m = match topic {
                None => help::overview(),
                Some(t) => help::topic(&t)?,
            };
            Ok((private(m), Vec::new()))
        }
    }
}

async fn assign<B: Backend + ?Sized>(backend: &B, actor: &Actor, id: i64, to: AssignTo) -> Ran {
    match service::assign_task(backend, actor, id, to).await? {
        AssignResult::Assigned {
            task,
            record,
            scores,
        } => {
            let who = task
                .assignee
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut m = RichMessage::text(format!(
                "Task #{} \"{}\" is assigned to {who}.",
                task.id, task.title
            ));
            let mut events = vec![Event::TaskChanged(task)];
            if let Some(record) = record {
                m = m
                    .with_field("Scores", render::scores_text(&scores))
                    .with_footer(format!("Recorded as decision #{}", record.id));
                events.push(Event::DecisionCreated(record));
            }
            Ok((public(m), events))
        }
        AssignResult::Escalated {
            task,
            decision,
            scores,
        } => {
            let m = RichMessage::text(format!(
                "No available agent fits task #{} \"{}\", so it stays unassigned. I asked the admins to assign it (decision #{}).",
                task.id, task.title, decision.id
            ))
            .with_field("Scores", render::scores_text(&scores));
            Ok((public(m), vec![Event::DecisionCreated(decision)]))
        }
    }
}

async fn resolve<B: Backend + ?Sized>(
    backend: &B,
    actor: &Actor,
    id: i64,
    outcome: DecisionOutcome,
    reason: Option<String>,
) -> Ran {
    let d = decisions::resolve_decision(backend, actor, id, outcome, reason).await?;
    Ok((
        public(decision_message(&d, None)),
        vec![Event::DecisionResolved(d)],
    ))
}
