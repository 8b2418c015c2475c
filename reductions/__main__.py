"""``python -m reductions``: hop | encode | verify | construct-hop | list | train | to-mpc."""

import sys

from protocols.cli_support import run_commands

#: subcommand -> module in reductions.cli (each has add_arguments(parser) and run(args)).
COMMANDS: dict[str, str] = {
    "hop": "hop",
    "encode": "encode",
    "verify": "verify",
    "list": "list",
    "construct-hop": "construct_hop",
    "train": "train",
    "to-mpc": "to_mpc",
}

if __name__ == "__main__":
    sys.exit(
        run_commands(
            "python -m reductions",
            "k-hop tasks, encoders and model-to-protocol reductions.",
            "reductions.cli",
            COMMANDS,
        )
    )
