"""`crossgrad` command line: check, verify, explain, sweep, bench.

Each subcommand lives in its own module `harness.cmd_<name>` with
    HELP: str
    def add_arguments(parser) -> None   # light: no numpy/torch/jax at import time
    def run(args) -> int                # the exit code
Exit codes: 0 ok, 1 disagreement / wrong derivation, 2 bad usage or input (one line on
stderr), 3 internal error (traceback with --debug), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("check", "verify", "explain", "sweep", "bench")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention too)
        self.exit(2, f"crossgrad: error: {message} (see 'crossgrad {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"crossgrad: error: {message} (see 'crossgrad --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from .cli_help import EPILOGS, TOP
    from .problem import loss_name
    raw = argparse.RawDescriptionHelpFormatter   # the epilogs' examples and exit codes, as written
    parser = _Parser(prog="crossgrad", description="Cross-check the gradients of conv -> loss -> SGD "
                     "across hand-derived NumPy, exact Fractions, PyTorch and JAX; verify hand-written derivations.",
                     epilog=TOP, formatter_class=raw)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"harness.cmd_{name}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP, epilog=EPILOGS.get(name),
                           formatter_class=raw)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of internal errors")
        mod.add_arguments(p)
        for action in p._actions:   # --loss mse, --loss "sum of squares": the names people write (problem.LOSS_ALIASES)
            if action.dest == "loss" and action.choices:
                action.type = loss_name
        p.set_defaults(_module=mod, _parser=p)
    return parser


class _Version(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata costs ~40 ms of every start-up)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        # stdout, so that `v=$(crossgrad --version)` gets it (argparse's exit message goes to stderr)
        sys.stdout.write(f"crossgrad {_version()}\n")
        parser.exit(0)


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("crossgrad")
    except Exception:  # not installed (run from a checkout with PYTHONPATH=.)
        return "0.1.0"


def _mistyped_command(argv: list[str]) -> str | None:
    """The command a first word like 'explian' was meant to be — unless it is a case or a file."""
    import difflib
    import os
    if not argv or argv[0].startswith("-") or os.path.exists(argv[0]):
        return None
    from .cases import BUILTIN
    if argv[0] in BUILTIN:
        return None
    close = difflib.get_close_matches(argv[0], COMMANDS, n=1, cutoff=0.75)
    return close[0] if close else None


def _unrecognized(parser: argparse.ArgumentParser, words: list[str]):
    """Exit 2 naming the option a mistyped one (`--dtpye`) was meant to be, and pointing at the command's
    own --help (argparse reports unknown options from the top-level parser, which knows none of them)."""
    import difflib
    options = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    named = []
    for word in words:
        close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.6) \
            if word.startswith("--") else []
        named.append(f"{word} (did you mean {close[0]}?)" if close else word)
    parser.error(f"unrecognized argument{'s' if len(words) > 1 else ''}: {' '.join(named)}")


def _terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, so temp files are removed
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not set(argv) & {*COMMANDS, "-h", "--help", "--version"}:
        typo = _mistyped_command(argv)
        if typo:
            print(f"crossgrad: error: unknown command {argv[0]!r} (did you mean {typo!r}?); "
                  f"commands: {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        argv = ["check", *argv]          # no command: `crossgrad [--json] [CASE]` is a check
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _unrecognized(getattr(args, "_parser", parser), unknown)
    from .errors import UserError
    try:
        return int(args._module.run(args) or 0)
    except UserError as exc:
        print(f"crossgrad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossgrad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (`| head`): exit as a tool killed by SIGPIPE does,
        _drop_stdout()       # not 0 — the verdict was never fully delivered
        return 128 + 13
    except SystemError as exc:  # Ctrl-C inside a C call (e.g. on Fractions) can arrive wrapped like this
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            print("crossgrad: interrupted", file=sys.stderr)
            return 130
        return _internal_error(args, exc)
    except Exception as exc:  # a bug in crossgrad, not in the input
        return _internal_error(args, exc)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not raise BrokenPipeError again."""
    import os
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _internal_error(args, exc: Exception) -> int:
    if getattr(args, "debug", False):
        raise exc
    print(f"crossgrad {args.command}: internal error: {type(exc).__name__}: {exc}\n"
          "This is a bug in crossgrad; please report it with the command you ran "
          "(rerun with --debug for the traceback).", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
