"""Pronoun-antecedent mismatches left by machine translation (needs spaCy).

Languages that drop subjects (Spanish, Romanian, Estonian, ...) leave the translator to guess a
pronoun, and it guesses wrong: "... has let China widen its trade routes. He also plans a
railway" (China: "It"), and "She wants new loans ... It also hopes to buy ships for its fleet"
(the owner: "She ... her"). Only sentence-initial subject pronouns are checked, against the
paragraph before them (parsed, with named entities):

* He/She -> It: nothing earlier in the paragraph can be a person (no PERSON entity, no name
  tagged PERSON anywhere in the document, no he/she/his/her/who, no person noun), the previous
  sentence has a thing that acts (a country or an organisation as subject, object or possessor,
  or a singular non-person subject), and the verb is one of what states and organisations do
  ("try", "build", "seek", "invest"; never "love", "die", "study"). Applied, with the sentence's
  him/his/himself.
* It -> He/She: "It" is the subject of a verb that wants a person ("wants", "seeks", "hopes"),
  the previous sentence's subject is a person of known gender, and that sentence has no singular
  thing "it" could mean. Applied when "also" marks the two sentences as the same actor's
  ("She wants ... It also hopes ..."), suggested otherwise; with the sentence's its/itself.
"""

from __future__ import annotations

import re

from . import mt_edit, paragraphs

SOURCE = "mt/pronoun"
KIND = "mt-pronoun"
AUTO_CONFIDENCE = 0.85
SUGGEST_CONFIDENCE = 0.6

_CANDIDATE_RE = re.compile(r"(?:^|[.!?][\"'\u201d\u2019)]*\s+)(?:He|She|It)\b", re.M)
_SUBJECT_DEPS = ("nsubj", "nsubjpass")
_ARGUMENT_DEPS = ("nsubj", "nsubjpass", "dobj", "poss", "attr", "dative")
_THING_LABELS = ("GPE", "ORG")
_PERSON_PRONOUNS = frozenset("he him his himself she her hers herself who whom".split())
_PERSON_NOUNS = frozenset("""
    president minister leader commander general official spokesman spokeswoman spokesperson man
    woman boy girl king queen prince princess envoy analyst chief director chairman chairwoman
    secretary ambassador senator governor mayor judge player coach author writer actor actress
    singer father mother son daughter wife husband brother sister uncle aunt priest bishop pope
    emperor soldier officer captain colonel lieutenant sergeant founder owner manager teacher
    student professor doctor lawyer expert adviser advisor aide candidate politician diplomat
    journalist reporter editor composer artist painter poet novelist scientist researcher
    economist banker investor executive ceo boss member citizen resident farmer worker driver
    pilot victim suspect prisoner child baby friend partner colleague rival opponent hero ruler
    monarch sultan sheikh prophet god saint lord lady sir person people scholar critic monk nun
    guru chef athlete champion witness spouse cousin nephew niece guest host hostage refugee
    """.split())
_HONORIFICS = frozenset("mr mrs ms miss mx dr sir dame lord lady prof rev fr mme mlle herr frau".split())
_HONORIFIC_GENDER = {
    "mr": "he",
    "sir": "he",
    "lord": "he",
    "herr": "he",
    "mrs": "she",
    "ms": "she",
    "miss": "she",
    "dame": "she",
    "lady": "she",
    "mme": "she",
    "mlle": "she",
    "frau": "she",
}
_PERSON_SUFFIXES = ("er", "or", "ist", "ian", "man", "woman")  # codespell:ignore ist
# Verbs whose subject is a person (or an organisation speaking as one), not a thing.
_WANTING_VERBS = frozenset("""
    want seek hope wish intend plan try refuse demand insist ask request claim believe think
    decide agree promise threaten vow fear prefer
    """.split())
# What a country or an organisation does: "China ... He also plans a railway".
# A thing cannot love, die or study, so "He" with such a verb is left alone whatever came before.
_INSTITUTIONAL_VERBS = frozenset("""
    try seek want plan build develop expand increase invest deploy send sign agree support oppose
    control negotiate demand aim intend refuse threaten hope need launch announce establish acquire
    buy sell export import produce supply fund finance provide offer impose lift sanction recognise
    recognize reject accept host occupy invade attack annex withdraw strengthen reinforce
    modernise modernize upgrade secure gain obtain pursue push press court lobby
    """.split())
_SAYING_VERBS = frozenset(
    "say tell add note state explain argue claim believe think write insist warn urge reply recall".split()
)
_TO_THING = {
    "he": "it",
    "she": "it",
    "him": "it",
    "himself": "itself",
    "herself": "itself",
    "hers": "its",
    "his": "its",
}


def propose(ctx) -> list:
    text = ctx.doc.text
    blocks = [b for b in paragraphs(text)]
    wanted = [_CANDIDATE_RE.search(text, b.start, b.end) is not None for b in blocks]
    if not any(wanted):
        return []
    from .nlp import load

    nlp = load()
    if nlp is None:
        return []
    # Parsing is the cost: only paragraphs that open a sentence with a pronoun, and the one
    # before each (its last sentence may hold the pronoun's antecedent), are parsed.
    parse = [want or (i + 1 < len(wanted) and wanted[i + 1]) for i, want in enumerate(wanted)]
    # A byte-order mark glued to the first word hides it from the tagger; a space keeps offsets.
    parsed = iter(nlp.pipe(text[b.start : b.end].replace("\ufeff", " ") for b, p in zip(blocks, parse) if p))
    docs = [next(parsed) if p else None for p in parse]
    names = _person_names(d for d in docs if d is not None)
    edits = []
    previous = None  # the last sentence of the paragraph before, and its paragraph's offset
    for block, doc, want in zip(blocks, docs, wanted):
        if doc is None:
            previous = None
            continue
        sents = list(doc.sents)
        if want:
            for j in range(len(sents)):
                edits.extend(_check(text, block.start, sents, j, names, previous))
        last = sents[-1] if sents else None
        previous = last if last is not None and last.text.rstrip()[-1:] in ".!?" else None
    return edits


def _person_names(docs) -> frozenset:
    """Every capitalised token of a PERSON entity: "Okafor" stays a person where the tagger
    calls one mention an organisation."""
    return frozenset(t.text for d in docs for e in d.ents if e.label_ == "PERSON" for t in e if t.text[:1].isupper())


def _check(text: str, offset: int, sents, j: int, names: frozenset, previous) -> list:
    sent = sents[j]
    first = next((t for t in sent if not (t.is_punct or t.is_space)), None)
    if first is None or first.lower_ not in ("he", "she", "it") or first.dep_ not in _SUBJECT_DEPS:
        return []
    if first.lower_ == "it":
        # "He is seeking ... [new paragraph] It also wants ...": the actor carries over.
        prev = sents[j - 1] if j else previous
        return _it_for_person(text, offset, sent, prev, first, names) if prev is not None else []
    if j == 0:
        return []  # a paragraph opening with "He" may mean anyone named before
    earlier = [t for s in sents[:j] for t in s]
    return _person_for_thing(text, offset, sent, sents[j - 1], earlier, first, names)


def _person_for_thing(text, offset, sent, prev, earlier, first, names) -> list:
    if any(_mentions_person(t, names) for t in earlier):
        return []
    # Named places and organisations only: "the firm" may stand for its founder two lines up.
    things = [
        e
        for e in prev.ents
        if e.label_ in _THING_LABELS
        and e.root.dep_ in _ARGUMENT_DEPS
        and e.root.tag_ != "NNPS"
        and not any(_mentions_person(t, names) for t in e)
    ]
    if not things:
        return []
    verbs = [first.head, *(t for t in first.head.children if t.dep_ in ("xcomp", "conj") and t.pos_ == "VERB")]
    if not any(_lemma(v) in _INSTITUTIONAL_VERBS for v in verbs):
        return []
    saying = _lemma(first.head) in _SAYING_VERBS
    others = [
        t
        for t in sent
        if t.i > first.i
        and _mentions_person(t, names)
        and t.lower_ not in _TO_THING
        and not (t.lower_ == "her" and first.lower_ == "she")
    ]
    gender = ("he", "him", "his", "himself") if first.lower_ == "he" else ("she", "her", "hers", "herself")
    targets = [first] + ([] if others else [t for t in sent if t.i > first.i and t.lower_ in gender])
    antecedent = things[0].text
    conf, auto = (SUGGEST_CONFIDENCE, False) if saying else (AUTO_CONFIDENCE, True)
    return [
        _replace(
            text,
            offset,
            t,
            _thing_form(t),
            conf,
            auto,
            f"'{t.text}' refers to a thing (no person in the paragraph; previous sentence: '{antecedent}')",
        )
        for t in targets
    ]


def _it_for_person(text, offset, sent, prev, first, names) -> list:
    if _lemma(first.head) not in _WANTING_VERBS:
        return []
    subjects = [t for t in prev if t.dep_ in _SUBJECT_DEPS and t.head.dep_ == "ROOT"]
    if len(subjects) != 1:
        return []
    subject = subjects[0]
    gender = {"he": "he", "she": "she"}.get(subject.lower_)
    if gender is None and subject.pos_ == "PROPN":  # "Mr Diallo, the new mayor, is seeking ..."
        titles = [_HONORIFIC_GENDER.get(c.lower_.rstrip(".")) for c in subject.children if c.dep_ == "compound"]
        gender = next((g for g in titles if g), None)
    if gender is None:
        return []  # a named person of unknown gender: the right pronoun is a guess
    if any(_singular_thing(t, names) for t in prev if t.i != subject.i):
        return []
    also = any(t.lower_ == "also" for t in sent[: first.i - sent.start + 4])
    conf, auto = (AUTO_CONFIDENCE, True) if also else (SUGGEST_CONFIDENCE, False)
    other_subject = next((t.i for t in sent if t.i > first.i and t.dep_ in _SUBJECT_DEPS), sent.end)
    forms = {
        "it": gender,
        "its": "his" if gender == "he" else "her",
        "itself": "himself" if gender == "he" else "herself",
    }
    targets = [first] + [t for t in sent if first.i < t.i < other_subject and t.lower_ in ("its", "itself")]
    return [
        _replace(
            text,
            offset,
            t,
            forms[t.lower_],
            conf,
            auto,
            f"'{t.text}' refers to the person in the previous sentence ('{subject.text} ...')",
        )
        for t in targets
    ]


def _replace(text, offset, tok, form, conf, auto, reason):
    start = offset + tok.idx
    word = tok.text
    replacement = form.capitalize() if word[0].isupper() else form
    return mt_edit(
        text, start, start + len(word), replacement, kind=KIND, source=SOURCE, confidence=conf, auto=auto, reason=reason
    )


def _thing_form(tok) -> str:
    if tok.lower_ == "her":
        return "its" if tok.tag_ == "PRP$" else "it"
    return _TO_THING[tok.lower_]


def _mentions_person(tok, names) -> bool:
    """Could this token be (part of) a mention of a person? Generous on purpose: the small
    model tags "Ms Okafor" as a place and leaves "Smith" untagged."""
    if tok.lower_ in _PERSON_PRONOUNS or tok.ent_type_ == "PERSON" or _honorific(tok):
        return True
    if tok.pos_ == "PROPN":
        if tok.text in names or not tok.ent_type_:
            return True
        return any(_honorific(c) or (c.dep_ == "appos" and (c.like_num or _person_noun(c))) for c in tok.children)
    # "another scholar, Ganguly, ...": a noun in apposition with a name is that person.
    return tok.pos_ == "NOUN" and (
        _person_noun(tok)
        or any(c.dep_ == "appos" and c.pos_ == "PROPN" and c.ent_type_ in ("PERSON", "") for c in tok.children)
    )


def _honorific(tok) -> bool:
    return tok.lower_.rstrip(".") in _HONORIFICS


def _person_noun(tok) -> bool:
    w = tok.lower_
    singular = w[:-1] if w.endswith("s") and not w.endswith("ss") else w
    return w in _PERSON_NOUNS or singular in _PERSON_NOUNS or singular.endswith(_PERSON_SUFFIXES)


def _singular_thing(tok, names) -> bool:
    """A singular non-person noun or name in an argument role: something "it" could mean."""
    if tok.dep_ not in _ARGUMENT_DEPS or tok.dep_ == "poss":
        return False
    if tok.ent_type_ in _THING_LABELS and tok.text not in names:
        return tok.tag_ != "NNPS"
    return tok.tag_ in ("NN", "NNP") and not _mentions_person(tok, names)


def _lemma(tok) -> str:
    from ..text import import_lemminflect

    getLemma = import_lemminflect().getLemma

    lemmas = getLemma(tok.lower_, upos="VERB")
    return lemmas[0] if lemmas else tok.lower_
