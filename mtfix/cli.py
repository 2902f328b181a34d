"""The `mtfix` command: a thin layer over `mtfix.repair`. Exit codes are `mtfix.io.ExitCode`."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from . import __version__
from .io import (
    DEFAULT_MAX_BYTES,
    EmptyInput,
    ExitCode,
    InputError,
    atomic_write,
    backup_path,
    cannot_write,
    is_ascii_compatible,
    is_text_encoding,
    one_visible_line,
    read_input,
)

# Sub-commands living in their own modules, imported only when invoked (or listed in --help).
LAZY_COMMANDS = {
    "eval": ("mtfix.evaluate", "eval_command", "Measure a repair against reference texts."),
    "batch": ("mtfix.batch", "batch_command", "Clean many documents (folders, JSONL, Parquet)."),
    "train": ("mtfix.restorer.train", "train_command", "Train the seq2seq restorer adapter."),
}


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        names.update(n for n, (mod, _, _) in LAZY_COMMANDS.items() if _module_exists(mod))
        return sorted(names)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        module, attr, _ = LAZY_COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("mtfix"):
                return None
            raise

    def format_commands(self, ctx, formatter):
        # Describe lazy commands without importing them, so --help stays fast and light.
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][2]))
            else:
                cmd = self.commands.get(name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=60)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def error(message: str) -> None:
    """Every mtfix error: one line on stderr, control characters (of a file name) escaped."""
    click.echo(f"mtfix: error: {one_visible_line(message)}", err=True)


def fail(message: str, code: ExitCode) -> "click.exceptions.Exit":
    error(message)
    return click.exceptions.Exit(int(code))


def repair_options(f):
    """Options shared by every command that runs a repair."""
    decorators = [
        click.option("--mode", type=click.Choice(["rules", "full"]), default=None,
                     help="rules: rule tables only (fast, no model). full: also the language model."),
        click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
                     help="Report and apply only edits at least this confident (default 0.5)."),
        click.option("--all/--no-all", "apply_all", default=None,
                     help="Also apply suggestions, not only automatic fixes (--no-all overrides a config's all = true)."),
        click.option("--rules", "rules", multiple=True, type=click.Path(dir_okay=False),
                     help="Extra TSV rule file; its entries override built-in ones. Repeatable."),
        click.option("--disable", multiple=True, metavar="RULE",
                     help="Turn off a rule id (news/mention), a table (tortured), a kind or a proposer. Repeatable."),
        click.option("--enable", multiple=True, metavar="PROPOSER",
                     help="Also run this proposer (e.g. restorer, mt-pronoun). Repeatable."),
        click.option("--ignore", multiple=True, metavar="PHRASE",
                     help="Never change this word or phrase (any case). Repeatable."),
        click.option("--ignore-file", type=click.Path(dir_okay=False), default=None,
                     help="Words and phrases never to change, one per line ('#' comments)."),
        click.option("--model", default=None, help="Local Hugging Face causal-LM directory (full mode)."),
        click.option("--device", default=None, help="auto, cpu or cuda (full mode)."),
        click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input files."),
        click.option("--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES, show_default=True,
                     help="Refuse inputs larger than this."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Read defaults from this TOML file instead of the nearest .mtfix.toml / pyproject.toml."),
        click.option("--no-config", is_flag=True, help="Ignore configuration files."),
        # Hidden: which built-in tables to load (comma separated, '' for none); tests and
        # rule authors use it to run a user rule file alone.
        click.option("--tables", default=None, hidden=True),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def build_options(kw: dict):
    """Merge config-file defaults with command-line flags (flags win)."""
    from .options import ConfigError, Options, find_config, load_config, read_ignore_file

    from .ruletable import BUILTIN_TABLES

    config_path = kw.pop("config_path", None)
    no_config = kw.pop("no_config", False)
    tables = kw.pop("tables", None)
    if tables is not None:
        tables = tuple(t.strip() for t in tables.split(",") if t.strip())
        unknown = [t for t in tables if t not in BUILTIN_TABLES]
        if unknown:
            raise fail(f"unknown table(s) {', '.join(unknown)} (known: {', '.join(BUILTIN_TABLES)})", ExitCode.USAGE)
        kw["tables"] = tables
    base = Options()
    try:
        path = Path(config_path) if config_path else (None if no_config else find_config())
        if config_path and not Path(config_path).is_file():
            raise ConfigError(f"{config_path}: no such config file")
        if path is not None:
            base = load_config(path)
        cli = {k: v for k, v in kw.items() if v not in (None, ()) or k == "tables" and v is not None}
        if "rules" in cli:
            cli["rules"] = tuple(base.rules) + tuple(cli["rules"])
        ignore_file = cli.pop("ignore_file", None)
        if ignore_file is not None:
            cli["ignore"] = tuple(cli.get("ignore", ())) + tuple(read_ignore_file(Path(ignore_file)))
        for key in ("disable", "enable", "ignore"):
            if key in cli:
                cli[key] = tuple(getattr(base, key)) + tuple(cli[key])
        options = Options.from_kwargs(base, **cli)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    # A misspelt name would silently turn nothing off (or on): refuse it, as ruff and flake8
    # refuse unknown codes, naming where it was given.
    if path is not None:
        _refuse_unknown_switches(options, base.disable, base.enable, config=path)
    _refuse_unknown_switches(options, kw.get("disable") or (), kw.get("enable") or ())
    return options


def _refuse_unknown_switches(options, disable, enable, config: Path | None = None) -> None:
    """A usage error for the first `disable` or `enable` value that names nothing, with the
    closest known name; the values come from the `config` file, or else the command line."""
    import difflib

    from .pipeline import PROPOSERS, disable_names, switch_problem
    from .ruletable import RuleFileError

    try:
        found = switch_problem(options, disable, enable)
    except RuleFileError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    if found is None:
        return
    key, name, problem = found
    where = f"{config}: {key}" if config is not None else f"--{key}"
    if name in PROPOSERS and key == "enable":  # known, but not in this mode
        raise fail(f"{where} {name!r}: {problem}", ExitCode.USAGE)
    if key == "disable":
        known, fallback = sorted(disable_names(options)), f"see '{_command_path()} --help'"
    else:
        known = sorted(PROPOSERS)
        fallback = f"known: {', '.join(known)}"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else fallback
    raise fail(f"{where} {name!r}: {problem} ({hint})", ExitCode.USAGE)


def _command_path() -> str:
    ctx = click.get_current_context(silent=True)
    return ctx.command_path if ctx is not None else "mtfix"


def pop_io(kw: dict) -> tuple[str, int]:
    """The --encoding (checked) and --max-bytes options, taken out of a command's keywords."""
    encoding = kw.pop("encoding")
    if not is_text_encoding(encoding):
        raise fail(f"--encoding {encoding!r}: not a text encoding Python knows", ExitCode.USAGE)
    return encoding, kw.pop("max_bytes")


def run_repair(text: str, options):
    """mtfix.repair with library errors turned into one-line CLI errors."""
    from .pipeline import UnknownComponent, run
    from .ruletable import RuleFileError

    try:
        return run(text, options)
    except RuleFileError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except UnknownComponent as exc:
        raise fail(str(exc.args[0]), ExitCode.USAGE) from None
    except ImportError as exc:
        raise fail(f"{exc}", ExitCode.USAGE) from None


class _Outcome:
    """Repairs several files for `check`/`diff`: an unreadable one is reported and skipped,
    and the exit code says whether any was unreadable (3) or had edits (1).

    Empty input given alone is an input error: there was nothing to check, which is likely a
    mistake (an empty pipe, the wrong file). Among several files (a pre-commit hook passes every
    staged one) an empty file is only noted: as for black, there is nothing wrong in it. With
    `skip_empty` it is only noted even alone: pre-commit passes one file when one is staged."""

    def __init__(self, skip_empty: bool = False) -> None:
        self.skip_empty = skip_empty
        self.found_any = False
        self.input_error = False

    def repair_each(self, files, encoding: str, max_bytes: int, options):
        for path in files:
            try:
                src = read_input(path, encoding, max_bytes)
            except InputError as exc:
                if isinstance(exc, EmptyInput) and (self.skip_empty or len(files) > 1):
                    click.echo(f"mtfix: {one_visible_line(str(exc))}: skipped, nothing to check", err=True)
                else:
                    error(str(exc))
                    self.input_error = True
                continue
            result = run_repair(src.text, options)
            self.found_any = self.found_any or bool(result.edits)
            yield path, src, result

    def exit(self):
        if self.input_error:
            raise click.exceptions.Exit(int(ExitCode.INPUT))
        raise click.exceptions.Exit(int(ExitCode.FOUND if self.found_any else ExitCode.OK))


skip_empty_option = click.option(
    "--skip-empty", is_flag=True,
    help="Note an empty (or whitespace-only) file on stderr and skip it, never an input error, "
         "even when it is the only file (for pre-commit hooks).",
)


def _display_name(path: str) -> str:
    """A file's name as text output shows it (JSON keeps it raw: JSON escapes for itself)."""
    return one_visible_line(_json_name(path))


def _json_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mtfix")
def cli():
    """Find and repair article-spinner and machine-translation damage in English text.

    \b
    mtfix check FILE...     list suspicious phrases with suggested fixes
    mtfix fix FILE          write the repaired text (stdout, -o, or --in-place)
    mtfix diff FILE...      show what `fix` would change

    Exit codes: 0 nothing found, 1 edits found, 2 usage error, 3 input error, 4 batch finished
    but skipped documents, 130 interrupted.
    """


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text", show_default=True)
@skip_empty_option
@repair_options
def check(files, fmt, skip_empty, **kw):
    """Report suspicious phrases, one line each: path:line:col: found → fix (confidence, rule, reason)."""
    from .render import json_report, jsonl_report, report_lines

    encoding, max_bytes = pop_io(kw)
    options = build_options(kw)
    outcome = _Outcome(skip_empty)
    results = []
    for path, src, result in outcome.repair_each(files, encoding, max_bytes, options):
        name = _display_name(path)
        if fmt == "text":
            for line in report_lines(name, result):
                click.echo(line)
        elif fmt == "jsonl":
            for line in jsonl_report(_json_name(path), result):
                click.echo(line)
        else:
            results.append((_json_name(path), result))
    if fmt == "json":
        click.echo(json_report(results, "" if results else _signature_or_blank(options)))
    outcome.exit()


@cli.command()
@click.argument("file")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the repaired text here ('-': standard output).")
@click.option("--in-place", "-i", is_flag=True, help="Replace FILE (atomically).")
@click.option("--backup", metavar="SUFFIX", default=None,
              help="With --in-place, keep the original as FILE+SUFFIX (for a symbolic link, beside the file it points to).")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if the file would change.")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@click.option("--interactive", is_flag=True,
              help="Ask about each fix (y/n/edit/ignore/all/quit) on stderr; Enter keeps the default.")
@repair_options
def fix(file, output, in_place, backup, check_only, quiet, interactive, **kw):
    """Repair FILE ('-' for stdin). Applies automatic fixes; --all applies suggestions too."""
    encoding, max_bytes = pop_io(kw)
    if in_place and file == "-":
        raise fail("--in-place needs a file, not stdin", ExitCode.USAGE)
    if in_place and output:
        raise fail("use either --in-place or --output, not both", ExitCode.USAGE)
    if backup is not None and not in_place:
        raise fail("--backup only makes sense with --in-place", ExitCode.USAGE)
    if backup is not None and (not backup or "/" in backup or os.sep in backup):
        raise fail(f"--backup {backup!r}: give a file-name suffix such as .orig (no folder)", ExitCode.USAGE)
    if backup and (kept := backup_path(file, backup)).is_dir():
        raise fail(f"{kept}: is a folder; the backup cannot go there", ExitCode.USAGE)
    if output == "-":
        output = None  # standard output, as without -o
    if interactive and (file == "-" or check_only):
        raise fail("--interactive reads answers from stdin: give a file, and drop --check", ExitCode.USAGE)
    ignore_file = kw.get("ignore_file")
    options = build_options(kw)
    try:
        src = read_input(file, encoding, max_bytes)
    except InputError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    result = run_repair(src.text, options)
    if interactive:
        from .interactive import choose_edits, with_choices

        result = with_choices(result, choose_edits(_display_name(file), result, ignore_file))
    out_encoding = src.encoding
    target = file if in_place else output or "<stdout>"
    try:
        if check_only:
            pass
        elif in_place:
            if result.changed:
                atomic_write(file, result.repaired, encoding=out_encoding, backup_suffix=backup)
        elif output:
            atomic_write(output, result.repaired, encoding=out_encoding)
        else:  # in the input's encoding, line endings untouched: a clean file comes back byte for byte
            _write_stdout_bytes(result.repaired.encode(out_encoding), out_encoding)
    except UnicodeEncodeError as exc:
        raise fail(f"{target}: the repaired text has {exc.object[exc.start]!r}, which {encoding} cannot encode",
                   ExitCode.INPUT) from None
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise fail(f"{target}: {cannot_write(exc)}", ExitCode.INPUT) from None
    if not quiet:
        click.echo(
            f"mtfix: {_display_name(file)}: {len(result.applied)} fixed, "
            f"{len(result.edits) - len(result.applied)} suggested (spin score {result.spin_score:.2f})",
            err=True,
        )
    if check_only:
        raise click.exceptions.Exit(int(ExitCode.FOUND if result.changed else ExitCode.OK))


def _signature_or_blank(options) -> str:
    """The run's signature when no file was read; blank if its rule files cannot be read
    (no file reached the step that reports that)."""
    from .pipeline import ruleset_for, signature
    from .ruletable import RuleFileError

    try:
        return signature(options, ruleset_for(options))
    except (RuleFileError, OSError):
        return ""


def _patch_bytes(patch: str, encoding: str) -> bytes:
    """The patch with its lines in the file's own encoding, so they match its bytes (`patch`
    compares bytes); the two header lines in UTF-8 where the encoding cannot spell the path.
    All UTF-8 for UTF-16/32, which no patch tool reads."""
    if not patch or not is_ascii_compatible(encoding):
        return patch.encode("utf-8")
    header_end = patch.index("\n", patch.index("\n") + 1) + 1  # "--- a/..." and "+++ b/..."
    head, body = patch[:header_end], patch[header_end:]
    try:
        head_bytes = head.encode(encoding)
    except UnicodeEncodeError:
        head_bytes = head.encode("utf-8")
    try:
        return head_bytes + body.encode(encoding)
    except UnicodeEncodeError:  # a replacement the file's encoding cannot hold: `fix` refuses it too
        return patch.encode("utf-8")


def _write_stdout_bytes(data: bytes, encoding: str = "utf-8") -> None:
    """Bytes to stdout as they are (a text-mode stdout would re-encode and translate line
    ends); decoded only where stdout has no byte layer (an embedding host's stream)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode(encoding, "replace"))
    else:
        buffer.write(data)
        buffer.flush()


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--style", type=click.Choice(["inline", "unified", "side-by-side", "html"]), default="inline",
              show_default=True, help="inline: coloured word diff with reasons; unified: a patch; html: a page.")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: on for a terminal, off with NO_COLOR).")
@click.option("--context", "context_lines", type=click.IntRange(min=0), default=None,
              help="Unchanged lines to show around each change (inline and unified; default: 0 inline, 3 unified).")
@skip_empty_option
@repair_options
def diff(files, style, color, context_lines, skip_empty, **kw):
    """Show the fixes `mtfix fix` would make. Exit 1 when there is any edit."""
    from .render import html_report, inline_diff, side_by_side, unified_diff

    encoding, max_bytes = pop_io(kw)
    options = build_options(kw)
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    console = None
    if style in ("inline", "side-by-side"):
        from rich.console import Console

        console = Console(force_terminal=color, no_color=not color, highlight=False, soft_wrap=style == "inline")
        if console.color_system is None:  # TERM=dumb: rich writes no colour, so show the markers
            color = False
    outcome = _Outcome(skip_empty)
    pages = []
    for path, src, result in outcome.repair_each(files, encoding, max_bytes, options):
        name = _display_name(path)
        if style == "unified":
            patch_name = "stdin" if path == "-" else path
            patch = unified_diff(src.text, result.repaired, patch_name, n=3 if context_lines is None else context_lines)
            _write_stdout_bytes(_patch_bytes(patch, src.encoding))
        elif style == "html":
            pages.append((name, result))  # one HTML document for all files, written at the end
        elif style == "side-by-side":
            console.print(side_by_side(name, result, color))
        else:
            rendered = inline_diff(name, result, color, context=context_lines or 0)
            if color:
                console.print(rendered)
            else:
                sys.stdout.write(rendered)
    if pages:
        sys.stdout.write(html_report(pages))
    sys.stdout.flush()
    outcome.exit()


def main(argv=None) -> int:
    """Entry point: returns the exit code instead of letting click pick its own."""
    try:
        try:
            rv = cli.main(args=argv, prog_name="mtfix", standalone_mode=False)
        finally:
            sys.stdout.flush()  # here, so a full disk is reported, not met at exit
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: bad option, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `mtfix`: the help is the message
            exc.show()
            return int(ExitCode.USAGE)
        # One line, like every other mtfix error, with the way to the help text.
        message = " ".join(exc.format_message().split())
        command = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f" (see '{command} --help')" if isinstance(exc, click.UsageError) and command else ""
        error(message + hint)
        return int(ExitCode.USAGE)
    except (click.Abort, KeyboardInterrupt):
        click.echo("mtfix: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `mtfix check big.txt | head`: the reader left; that is not an error of ours.
        _discard_stdout()
        return int(ExitCode.OK)
    except OSError as exc:
        # Writing the report failed (`mtfix check a.txt > /dev/full`); `fix` says so itself.
        _discard_stdout()
        error(f"<stdout>: {cannot_write(exc)}")
        return int(ExitCode.INPUT)
    return rv if isinstance(rv, int) else 0


def _discard_stdout() -> None:
    """Send what is still buffered for stdout nowhere, so exit does not fail writing it again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
