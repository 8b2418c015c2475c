"""``python -m protocols``: list | run | show | audit | replay | mpc."""

import sys

from .cli_support import run_commands

#: subcommand -> module in protocols.cli (each has add_arguments(parser) and run(args)).
COMMANDS: dict[str, str] = {
    "list": "list",
    "run": "run",
    "show": "show",
    "audit": "audit",
    "replay": "replay",
    "mpc": "mpc",
}

if __name__ == "__main__":
    sys.exit(run_commands("python -m protocols", "Run k-party blackboard protocols.", "protocols.cli", COMMANDS))
