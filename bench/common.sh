# Shared by bench/external.sh and bench/instructions.sh (sourced).

# The hub's config for a benchmark: listening on port $2, the database at
# URL $1, one person and one agent, logs at the shipped default level
# (info, as config.toml has it). No brief: a hub started
# after a person's brief_time sends today's at once, and the idle figure
# would then depend on the hour (README "Memory").
bench_config() {
  cat <<TOML
[server]
listen = "127.0.0.1:$2"
max_connections = 512
[database]
url = "$1"
[log]
level = "info"
[brief]
enabled = false
[[people]]
id = "ceo"
role = "owner"
push = ["console"]
[[agents]]
id = "bench"
TOML
}
