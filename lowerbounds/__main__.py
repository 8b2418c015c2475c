"""``python -m lowerbounds``: figures | sweep | plot | bounds | exponent."""

import sys

from protocols.cli_support import run_commands

#: subcommand -> module in lowerbounds.cli (each has add_arguments(parser) and run(args)).
COMMANDS: dict[str, str] = {
    "figures": "figures",
    "plot": "plot",
    "bounds": "bounds",
    "sweep": "sweep",
    "exponent": "exponent",
}

if __name__ == "__main__":
    sys.exit(run_commands("python -m lowerbounds", "Lower-bound experiments and figures.", "lowerbounds.cli", COMMANDS))
