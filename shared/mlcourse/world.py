"""A small synthetic world of invented facts, with a known structure, rendered as training data.

Forty invented people live in nine invented cities spread over three invented countries; each
person has a home city, a favourite colour, a favourite food and a pet. Nothing here is real-world
knowledge, so whatever a model knows about this world it learnt from the data below. The names
are fixed; `seed` decides who has which attribute and how the data is split, so `World(seed=0)`
is the same world every time.

Every string is lower-case words separated by single spaces (punctuation is a word of its own),
all covered by one word-level vocabulary `world.vocab` (115 tokens, `<pad> <s> <eos>` included).

    facts, city_facts    the 160 Fact(subject, relation, value) of the people; the 9
                         (city, "country", ...)
    statements_train     pretraining text: one statement per string, each fact in 2-3 wordings
    statements_heldout   a wording of some facts kept out of training (the facts themselves are in
                         `statements_train` under another wording), for a held-out pretraining loss
        "zorbin lives in zarn ."      "the favourite food of zorbin is nut cake ."
    qa_train, qa_heldout (prompt x, response y) pairs in a question format the statements never
                         use; the responses have 1 to 4 words; a fact is in exactly one of the two
        ("question : what pet does zorbin have ? answer :", "a big red newt")
    multi_answer         prompts with several valid answers -> {answer: frequency}: each such pair
                         occurs in `qa_train` that often (counts 3, 2, 1 out of 6), so the maximum-
                         likelihood model gives these frequencies, not probability 1 to one answer
                         (these 18 pairs are the only repeated ones in `qa_train`: 120 + 18 pairs)
        {"question : name a city in lorania . answer :":
            {"velm": 1/2, "dorn": 1/6, "ashka": 1/3}, ...}
    dialogues            one multi-turn dialogue per person: [(role, text), ...] with roles "user"
                         and "assistant"; `render_dialogue` writes one as a single string
        "user : where does zorbin live ? assistant : zarn user : what pet does zorbin have ? ..."

The pretrained checkpoint of `mlcourse.transformer` was trained on `World(seed=0).statements_train`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mlcourse.vocab import Vocab

PEOPLE = (
    "zorbin mirelle tavos quenna brilo yasmet korrin delpha fenwick ostra ulmo prasket ivrel "
    "sondra wexley nimbet halvor ezzie trundle calvix morwen pibb rusko teffa galdor vinnet "
    "jubo elspar kettin arvo lumina quorra dobrin seffa hollis yarrik tamsk orrin bexlo faelan"
).split()
COUNTRIES = {
    "lorania": ("velm", "dorn", "ashka"),
    "mesk": ("pellin", "murel", "trask"),
    "brevonia": ("ilven", "gorsk", "zarn"),
}
COLOURS = ("red", "blue", "green", "grey", "teal", "pink")
FOOD_FIRST, FOOD_SECOND = ("plum", "bean", "fig", "nut", "rice"), ("pie", "soup", "cake", "bread")
SIZES, ANIMALS = ("small", "big", "tiny"), ("owl", "cat", "newt", "goat", "crab")
RELATIONS = ("city", "colour", "food", "pet")
MULTI_ANSWER_COUNTS = (3, 2, 1)  # how often each city of a country answers "name a city in ..."
HELDOUT_FRACTION = 0.25

# {s} is the subject, {v} the value; every fact is stated in each of its relation's wordings.
STATEMENTS = {
    "city": ("{s} lives in {v} .", "the home of {s} is {v} .", "{v} is where {s} lives ."),
    "colour": ("the favourite colour of {s} is {v} .", "{s} likes the colour {v} .",
               "{v} is the colour {s} likes best ."),
    "food": ("the favourite food of {s} is {v} .", "{s} eats {v} every day .",
             "{v} is what {s} likes to eat ."),
    "pet": ("the pet of {s} is {v} .", "{s} has {v} as a pet .", "{v} lives with {s} ."),
    "country": ("{s} is a city in {v} .", "{v} has a city called {s} ."),
}
QUESTIONS = {
    "city": "where does {s} live ?",
    "colour": "what colour does {s} like ?",
    "food": "what does {s} like to eat ?",
    "pet": "what pet does {s} have ?",
    "country": "name a city in {s} .",
}


@dataclass(frozen=True)
class Fact:
    """`subject` `relation` `value`, e.g. Fact("zorbin", "city", "velm"); values have 1-4 words."""

    subject: str
    relation: str
    value: str


def question_prompt(question: str) -> str:
    """The prompt x of a question/answer pair: `question : <question> answer :`."""
    return f"question : {question} answer :"


def render_dialogue(turns: list[tuple[str, str]]) -> str:
    """One string for a dialogue: `user : <text> assistant : <text> user : ...`."""
    for role, _ in turns:
        if role not in ("user", "assistant"):
            raise ValueError(f"a dialogue turn's role is 'user' or 'assistant', got {role!r}")
    return " ".join(f"{role} : {text}" for role, text in turns)


class World:
    """The facts of one seeded world and the data sets rendered from them (see the module
    docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        rng = random.Random(seed)
        cities = [city for country in COUNTRIES.values() for city in country]
        self.facts: list[Fact] = []
        for person in PEOPLE:
            pet = (rng.choice(["a", f"a {rng.choice(SIZES)}"])
                   + f" {rng.choice(COLOURS)} {rng.choice(ANIMALS)}")
            values = {
                "city": rng.choice(cities),
                "colour": rng.choice(COLOURS),
                "food": f"{rng.choice(FOOD_FIRST)} {rng.choice(FOOD_SECOND)}",
                "pet": pet,
            }
            self.facts += [Fact(person, relation, values[relation]) for relation in RELATIONS]
        self.city_facts = [Fact(c, "country", country)
                           for country, cs in COUNTRIES.items() for c in cs]
        self.statements_train, self.statements_heldout = self._statements(rng)
        self.qa_train, self.qa_heldout = self._qa_pairs(rng)
        counts = self._multi_answer_counts(rng)
        self.multi_answer = {x: {y: n / sum(ys.values()) for y, n in ys.items()}
                             for x, ys in counts.items()}
        self.qa_train += [(x, y) for x, ys in counts.items() for y, n in ys.items()
                          for _ in range(n)]
        rng.shuffle(self.qa_train)
        self.dialogues = [self._dialogue(person, rng) for person in PEOPLE]
        self.vocab = Vocab.from_texts(
            self.statements_train + self.statements_heldout
            + [x + " " + y for x, y in self.qa_train + self.qa_heldout]
            + [render_dialogue(d) for d in self.dialogues]
            + [" ".join(PEOPLE + cities
                        + list(COLOURS + FOOD_FIRST + FOOD_SECOND + SIZES + ANIMALS))]
        )

    def __repr__(self) -> str:
        return (f"World(seed={self.seed}: {len(self.facts)} facts, {len(self.statements_train)}+"
                f"{len(self.statements_heldout)} statements, "
                f"{len(self.qa_train)}+{len(self.qa_heldout)} question/answer pairs, "
                f"{len(self.dialogues)} dialogues, {len(self.vocab)} tokens)")

    def question(self, fact: Fact) -> tuple[str, str]:
        """The (prompt x, response y) pair that asks for `fact`."""
        return question_prompt(QUESTIONS[fact.relation].format(s=fact.subject)), fact.value

    def _statements(self, rng: random.Random) -> tuple[list[str], list[str]]:
        """Every fact in every wording; one wording of a quarter of the facts is held out."""
        train, heldout = [], []
        for fact in self.facts + self.city_facts:
            wordings = [w.format(s=fact.subject, v=fact.value) for w in STATEMENTS[fact.relation]]
            if rng.random() < HELDOUT_FRACTION:
                heldout.append(wordings.pop(rng.randrange(len(wordings))))
            train += wordings
        rng.shuffle(train)
        return train, heldout

    def _qa_pairs(self, rng: random.Random) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """One question per fact; for each relation, a quarter of the people's questions are held
        out."""
        train, heldout = [], []
        for relation in RELATIONS:
            facts = [fact for fact in self.facts if fact.relation == relation]
            rng.shuffle(facts)
            n_heldout = round(HELDOUT_FRACTION * len(facts))
            heldout += [self.question(f) for f in facts[:n_heldout]]
            train += [self.question(f) for f in facts[n_heldout:]]
        return train, heldout

    def _multi_answer_counts(self, rng: random.Random) -> dict[str, dict[str, int]]:
        """"name a city in <country>": each of its cities is an answer, with counts 3, 2, 1 in some
        order."""
        out = {}
        for country, cities in COUNTRIES.items():
            counts = rng.sample(MULTI_ANSWER_COUNTS, len(MULTI_ANSWER_COUNTS))
            out[question_prompt(QUESTIONS["country"].format(s=country))] = dict(zip(cities, counts))
        return out

    def _dialogue(self, person: str, rng: random.Random) -> list[tuple[str, str]]:
        """Two or three question/answer exchanges about one person, relations in random order."""
        values = {f.relation: f.value for f in self.facts if f.subject == person}
        relations = rng.sample(RELATIONS, rng.choice([2, 3]))
        turns = []
        for relation in relations:
            turns += [("user", QUESTIONS[relation].format(s=person)),
                      ("assistant", values[relation])]
        return turns
