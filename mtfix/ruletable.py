"""Rule tables: TSV data files treated as code (parsed strictly, validated, inflected).

A row says: this phrase is a known spinner/translation substitute for that one.
Columns (tab separated, header required, '#' lines are comments):

    found  replacement  pos  kind  apply  context  source  note

- found:        lower-case phrase as it appears in damaged text (straight apostrophes).
- replacement:  one or more restorations separated by '|', best first. Several means the
                entry is ambiguous, so it is never applied automatically.
- pos:          verb | noun | - . For verb and noun rows every inflection of the head word
                (first word of a verb phrase, last of a noun phrase) is matched and the
                replacement is inflected to match: mentioned -> said, consultants -> experts.
- kind:         synonym-swap | function-word | tortured-phrase | reordering
- apply:        auto    - the found phrase is almost never right in clean English;
                spun    - applied only in a document with strong evidence of spinning;
                suggest - reported, never applied unless the user asks (--all).
- context:      optional conditions, ';' separated, see `conditions.py`.
- source:       where the entry comes from (e.g. mtfix, pps).
- note:         free text.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from .conditions import Condition, ConditionError, parse_conditions
from .io import file_stamp

COLUMNS = ("found", "replacement", "pos", "kind", "apply", "context", "source", "note")
RULE_KINDS = ("synonym-swap", "function-word", "tortured-phrase", "reordering")
APPLY_MODES = ("auto", "spun", "suggest")
POS_VALUES = ("verb", "noun", "-")
BUILTIN_TABLES = ("news", "tortured")

VERB_TAGS = ("VB", "VBZ", "VBD", "VBN", "VBG")
NOUN_TAGS = ("NN", "NNS")


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the file, line and problem."""


@dataclass(frozen=True)
class Rule:
    id: str
    table: str
    found: str
    replacements: tuple[str, ...]
    pos: str
    kind: str
    apply: str
    conditions: tuple[Condition, ...]
    context: str
    source: str
    note: str
    line: int

    @property
    def ambiguous(self) -> bool:
        return len(self.replacements) > 1

    @property
    def case_sensitive(self) -> bool:
        return self.found != self.found.lower()

    def forms(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Map each matchable found form to {tag: replacement forms}."""
        return _inflected_forms(self.found, self.replacements, self.pos)


def _inflect(word: str, tag: str, upos: str) -> tuple[str, ...]:
    from .text import inflections

    # Only when building a matcher: the cached matcher needs no lemminflect at all.
    forms = inflections(word, tag)
    if not forms:
        return ()
    return tuple(f for f in forms if f.replace("'", "").replace("-", "").isalpha()) or tuple(forms)


@lru_cache(maxsize=None)
def _inflected_forms(found: str, replacements: tuple[str, ...], pos: str) -> dict[str, dict[str, tuple[str, ...]]]:
    if pos == "-":
        return {found: {"-": replacements}}
    tags = VERB_TAGS if pos == "verb" else NOUN_TAGS
    upos = "VERB" if pos == "verb" else "NOUN"
    head_first = pos == "verb"
    out: dict[str, dict[str, tuple[str, ...]]] = {}

    def split(phrase: str) -> tuple[str, str, str]:
        words = phrase.split(" ")
        if head_first:
            return "", words[0], " ".join(words[1:])
        return " ".join(words[:-1]), words[-1], ""

    fpre, fhead, fpost = split(found)
    for tag in tags:
        rep_forms = []
        for rep in replacements:
            rpre, rhead, rpost = split(rep)
            inflected = _inflect(rhead, tag, upos) or (rhead,)
            rep_forms.append(_join(rpre, inflected[0], rpost))
        fforms = _inflect(fhead, tag, upos) or ((fhead,) if tag in ("VB", "NN") else ())
        if tag not in ("VB", "NN") and len(fforms) > 1:
            # lemminflect lists mass-noun readings ("menace" as a plural); the base form
            # already has its own tag, so keep only the marked forms here.
            fforms = tuple(f for f in fforms if f != fhead)
        for fform in fforms:
            key = _join(fpre, fform, fpost)
            out.setdefault(key, {})[tag] = tuple(rep_forms)
    out.setdefault(found, {}).setdefault(tags[0], replacements)
    return out


def _join(pre: str, head: str, post: str) -> str:
    return " ".join(p for p in (pre, head, post) if p)


@dataclass
class RuleSet:
    rules: list[Rule]
    checksums: dict[str, str] = field(default_factory=dict)
    _by_id: dict[str, Rule] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {r.id: r for r in self.rules}

    def get(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def __len__(self) -> int:
        return len(self.rules)

    def signature(self) -> str:
        return "+".join(f"{name}.{digest[:8]}" for name, digest in sorted(self.checksums.items()))


def rule_id(table: str, found: str) -> str:
    return f"{table}/{found.replace(' ', '-')}"


def _table_lines(text: str):
    """(line number, line) of a table's header and rows: blank and comment lines left out."""
    for lineno, raw in enumerate(text.splitlines(), 1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield lineno, raw


def parse_table(text: str, table: str, path: str) -> list[Rule]:
    """Parse one TSV table strictly; any problem raises RuleFileError naming path:line."""
    rules: list[Rule] = []
    header_seen = False
    for lineno, raw in _table_lines(text):
        cells = next(csv.reader(io.StringIO(raw), delimiter="\t", quoting=csv.QUOTE_NONE))
        if not header_seen:
            if tuple(c.strip() for c in cells[: len(COLUMNS)]) != COLUMNS:
                raise RuleFileError(f"{path}:{lineno}: header must be: {' '.join(COLUMNS)} (tab separated)")
            header_seen = True
            continue
        if len(cells) < 5 or len(cells) > len(COLUMNS):
            raise RuleFileError(
                f"{path}:{lineno}: expected {len(COLUMNS)} tab-separated columns, got {len(cells)}"
            )
        cells = [c.strip() for c in cells] + [""] * (len(COLUMNS) - len(cells))
        found, replacement, pos, kind, apply, context, source, note = cells
        where = f"{path}:{lineno}"
        if not found:
            raise RuleFileError(f"{where}: empty 'found' phrase")
        if "  " in found or found != found.strip():
            raise RuleFileError(f"{where}: 'found' has stray spaces: {found!r}")
        if not replacement:
            raise RuleFileError(f"{where}: empty replacement for {found!r}")
        if pos not in POS_VALUES:
            raise RuleFileError(f"{where}: pos must be one of {', '.join(POS_VALUES)}, got {pos!r}")
        if kind not in RULE_KINDS:
            raise RuleFileError(f"{where}: kind must be one of {', '.join(RULE_KINDS)}, got {kind!r}")
        if apply not in APPLY_MODES:
            raise RuleFileError(f"{where}: apply must be one of {', '.join(APPLY_MODES)}, got {apply!r}")
        replacements = tuple(r.strip() for r in replacement.split("|"))
        if any(not r for r in replacements):
            raise RuleFileError(f"{where}: empty alternative in replacement {replacement!r}")
        if found.lower() in (r.lower() for r in replacements):
            raise RuleFileError(f"{where}: replacement equals the found phrase {found!r}")
        try:
            conditions = parse_conditions(context)
        except ConditionError as exc:
            raise RuleFileError(f"{where}: bad context {context!r}: {exc}") from None
        rules.append(
            Rule(
                id=rule_id(table, found),
                table=table,
                found=found,
                replacements=replacements,
                pos=pos,
                kind=kind,
                apply=apply,
                conditions=conditions,
                context=context,
                source=source or table,
                note=note,
                line=lineno,
            )
        )
    if not header_seen:
        raise RuleFileError(f"{path}:1: no header line (expected: {' '.join(COLUMNS)})")
    seen: dict[str, int] = {}
    for r in rules:
        if r.found in seen:
            raise RuleFileError(f"{path}:{r.line}: duplicate entry {r.found!r} (first at line {seen[r.found]})")
        seen[r.found] = r.line
    return rules


def builtin_table_text(name: str) -> str:
    return resources.files("mtfix.rules").joinpath(f"{name}.tsv").read_text(encoding="utf-8")


def _read_user_table(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    try:
        return p, p.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is not the header
    except FileNotFoundError:
        raise RuleFileError(f"{p}: rule file not found") from None
    except IsADirectoryError:
        raise RuleFileError(f"{p}: is a directory, expected a TSV rule file") from None
    except UnicodeDecodeError:
        raise RuleFileError(f"{p}: not UTF-8 text") from None


def load_user_table(path: str | Path) -> tuple[str, str, list[Rule]]:
    p, text = _read_user_table(path)
    return p.stem, text, parse_table(text, p.stem, str(p))


def rule_table_names(tables: Iterable[str], user_files: Iterable[str | Path] = ()) -> set[str]:
    """What `disable` can name in these tables: each table, and each rule by id and by found
    phrase. Only the found column is read: parsing and inflecting every row takes seconds."""
    names: set[str] = set()
    for name in dict.fromkeys(tables):
        names |= _builtin_table_names(name)
    for path in user_files:
        names |= _user_table_names(path)
    return names


def unknown_table_names(names: Iterable[str], tables: Iterable[str], user_files: Iterable[str | Path] = ()) -> list[str]:
    """The `names` that `rule_table_names` lacks, asked of each table's cached names in turn
    (the API asks on every call: no union of every table's names is built for it), and
    reading the user's files only for names no built-in table has."""
    rest = [n for n in names if not any(n in _builtin_table_names(t) for t in dict.fromkeys(tables))]
    if rest and user_files:
        known = rule_table_names((), user_files)
        rest = [n for n in rest if n not in known]
    return rest


_USER_TABLE_NAMES: dict[tuple[str, tuple[int, int] | None], frozenset[str]] = {}


def _user_table_names(path: str | Path) -> frozenset[str]:
    """A user table's names, read again only when the file changed (the API checks `disable`
    on every call; a 5,000-row file took 8.5 ms a call to read and split)."""
    key = (str(path), file_stamp(path))
    names = _USER_TABLE_NAMES.get(key)
    if names is None:
        p, text = _read_user_table(path)
        names = _table_names(p.stem, text)
        if len(_USER_TABLE_NAMES) > 16:
            _USER_TABLE_NAMES.clear()
        _USER_TABLE_NAMES[key] = names
    return names


@lru_cache(maxsize=None)
def _builtin_table_names(name: str) -> frozenset[str]:
    # Read once a process: the API checks `disable` on every call.
    return _table_names(name, builtin_table_text(name))


def _table_names(table: str, text: str) -> frozenset[str]:
    names = {table}
    rows = (line for _, line in _table_lines(text))
    next(rows, None)  # the header
    for row in rows:
        found = row.split("\t", 1)[0].strip()
        names.update((found, rule_id(table, found)))
    return frozenset(names)


APPLYING = ("auto", "spun")  # the apply modes a plain repair applies


@dataclass(frozen=True)
class Chain:
    """`rule`'s output `output` is matched by `by`, a rule that applies: repairing the
    repaired text would change it again (fixing twice would differ from fixing once)."""

    rule: Rule
    output: str
    by: Rule


def rule_chains(
    ruleset: RuleSet, among: Iterable[str] | None = None, applying: Iterable[str] = APPLYING
) -> list[Chain]:
    """Each rule output (every inflection of every replacement) that an applying rule
    matches, with that rule's conditions read inside the output itself; a rule that matches
    its own output ("Acme" -> "Acme Corp") counts too. With `among` (rule ids), only the
    chains in which one of those rules produces or matches: checking a user's table against
    the built-in ones reads the built-in outputs only where a user rule's phrase occurs.
    `applying=APPLY_MODES` counts suggestions as rewriters too, as `fix --all` applies them."""
    import types

    from .rulematch import Matcher, matcher_for, propose_rules
    from .text import Document

    modes = frozenset(applying)
    live = {r.id for r in ruleset.rules if r.apply in modes}
    wanted = None if among is None else set(among)
    prefilter = None
    if wanted is not None:
        prefilter = Matcher(RuleSet(rules=[r for r in ruleset.rules if r.id in wanted and r.id in live]))
    everything = matcher_for(ruleset)
    chains: list[Chain] = []
    for rule in ruleset.rules:
        mine = wanted is None or rule.id in wanted
        outputs = {o for by_tag in rule.forms().values() for reps in by_tag.values() for o in reps}
        for output in sorted(outputs):
            if not mine and next(prefilter.matches(output.lower()), None) is None:
                continue
            for text, offset in [(output, 0), *_with_neighbours(rule, output, everything)]:
                doc = Document(text)
                hit = next(
                    (
                        e for e in propose_rules(types.SimpleNamespace(doc=doc, ruleset=ruleset, produced=None))
                        if e.source in live and (mine or e.source in wanted)
                        and offset <= e.start and e.end <= offset + len(output)
                    ),
                    None,
                )
                if hit is not None:
                    chains.append(Chain(rule, output, ruleset.get(hit.source)))
                    break
    return chains


def _with_neighbours(rule: Rule, output: str, matcher) -> list[tuple[str, int]]:
    """`output` with a word before or after it that a rule matching at its edge asks for
    (a `before:`/`after:` condition), and where the output starts in that text: "health
    authorities" is left alone by itself, but a rule reading "authorities" as "government"
    before "shutdown" rewrites it again in "health authorities shutdown". Only words beside
    which `rule` itself applies count: a rule kept from firing after "sustainable" never
    writes the "improvement" another rule reads as "development" there."""
    folded = output.lower()
    texts = []
    for start, end, entries in matcher.matches(folded):
        for entry in entries:
            for cond in entry.rule.conditions:
                if cond.field == "before" and end == len(folded):
                    texts += [(f"{output} {w}", 0) for w in cond.witnesses() if _fires_beside(rule, w, True)]
                elif cond.field == "after" and start == 0:
                    texts += [(f"{w} {output}", len(w) + 1) for w in cond.witnesses() if _fires_beside(rule, w, False)]
    return list(dict.fromkeys(texts))


def _fires_beside(rule: Rule, word: str, next_to_it: bool) -> bool:
    """Whether `rule`'s conditions on that side allow `word` (or a punctuation mark) there."""
    neighbour = (word, word[0] if next_to_it else word[-1]) if word[0].isalnum() else (None, word)
    return all(c.holds(*neighbour) for c in rule.conditions if c.field != "doc_without" and c.looks_before == next_to_it)


def _refuse_chains(ruleset: RuleSet, user_ids: set[str], labels: dict[str, str]) -> None:
    """A RuleFileError naming the user's rule (file and line) in the first chain found."""
    chains = rule_chains(ruleset, among=user_ids)
    if not chains:
        return
    c = chains[0]
    user = c.rule if c.rule.id in user_ids else c.by
    pairs = {(x.rule.id, x.by.id) for x in chains}

    def named(r: Rule) -> str:
        return r.id if r is user else f"{r.id} ({labels.get(r.id, r.table)}:{r.line})"

    if c.by.id == c.rule.id:
        matcher, advice = "the rule itself", "its replacement must not contain its found phrase"
    else:
        matcher, advice = f"rule {named(c.by)}", "remove or --disable one of them"
    raise RuleFileError(
        f"{labels.get(user.id, user.table)}:{user.line}: rule {named(c.rule)} writes {c.output!r}, "
        f"which {matcher} matches again (a repaired text would be changed again); {advice}"
        + (f" ({len(pairs) - 1} more such pairs)" if len(pairs) > 1 else "")
    )


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The matching code is part of the cache key: a pickle made by other code is never used."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("ruletable.py", "rulematch.py", "conditions.py", "text.py"):
        try:
            h.update((here / name).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.hexdigest()[:16]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_rules(
    tables: Iterable[str] = BUILTIN_TABLES,
    user_files: Iterable[str | Path] = (),
    disable: Iterable[str] = (),
) -> RuleSet:
    """Built-in tables, then user files (a user entry overrides any earlier one with the same
    found phrase), minus disabled rule ids, tables or kinds.

    The parsed rule set and its compiled matcher are cached together in the user cache,
    keyed by the tables' contents: parsing and inflecting thousands of rows takes seconds,
    unpickling them a fraction of that, which keeps `mtfix check small.txt` fast."""
    from . import __version__
    from .cache import load_pickle, save_pickle

    sources: list[tuple[str, str, str]] = []  # (table, path label, text)
    for name in tables:
        sources.append((name, f"mtfix/rules/{name}.tsv", builtin_table_text(name)))
    for path in user_files:
        p, text = _read_user_table(path)
        sources.append((f"user:{p.stem}", str(p), text))
    off = set(disable)
    key = hashlib.sha256(
        repr((__version__, _code_digest(), [(t, _digest(x)) for t, _, x in sources], sorted(off))).encode()
    ).hexdigest()[:32]
    cache_name = f"ruleset-{key}.pickle"
    cached = load_pickle(cache_name)
    if isinstance(cached, RuleSet):
        return cached

    by_found: dict[str, Rule] = {}
    checksums: dict[str, str] = {}
    labels: dict[str, str] = {}  # rule id -> the file it comes from
    user_ids: set[str] = set()
    for table, label, text in sources:
        checksums[table] = _digest(text)
        for r in parse_table(text, table.removeprefix("user:"), label):
            by_found[r.found] = r
            labels[r.id] = label
            if table.startswith("user:"):
                user_ids.add(r.id)
    kept = [
        r
        for r in by_found.values()
        if r.id not in off and r.table not in off and r.kind not in off and r.found not in off
    ]
    ruleset = RuleSet(rules=kept, checksums=checksums)
    from .rulematch import matcher_for

    matcher_for(ruleset)  # built now so that the cache holds it
    # The built-in tables are checked by their tests (tests/test_rule_tables.py); a user's
    # table here, once per table contents (a refused table is never cached).
    user_ids &= {r.id for r in kept}
    if user_ids:
        _refuse_chains(ruleset, user_ids, labels)
    save_pickle(cache_name, ruleset)
    return ruleset
