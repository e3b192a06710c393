"""The synthetic world: reproducible, disjoint splits, multi-answer frequencies, one vocabulary."""

from collections import Counter

import pytest

from mlcourse.world import RELATIONS, World, render_dialogue


@pytest.fixture(scope="module")
def world():
    return World(seed=0)


def test_same_seed_same_world_other_seed_other_world(world):
    again, other = World(seed=0), World(seed=1)
    for name in ("facts", "statements_train", "statements_heldout", "qa_train", "qa_heldout",
                 "multi_answer", "dialogues"):
        assert getattr(again, name) == getattr(world, name), name
    assert other.facts != world.facts and other.qa_heldout != world.qa_heldout
    assert again.vocab.itos == world.vocab.itos


def test_heldout_questions_are_disjoint_from_training_and_cover_every_relation(world):
    assert not set(world.qa_heldout) & set(world.qa_train)
    assert len(world.qa_heldout) == 40 and len(set(world.qa_heldout)) == 40
    relation_of = {world.question(fact): fact.relation for fact in world.facts}
    assert (Counter(relation_of[pair] for pair in world.qa_heldout)
            == {relation: 10 for relation in RELATIONS})
    assert len(world.qa_train) + len(world.qa_heldout) == len(world.facts) + 3 * 6
    assert len(world.facts) == 40 * len(RELATIONS)


def test_heldout_statements_reword_facts_that_training_states(world):
    assert not set(world.statements_heldout) & set(world.statements_train)
    for fact in world.facts:
        assert any(fact.subject in s.split() and fact.value in s for s in world.statements_train)


def test_responses_have_one_to_four_words_and_the_question_format_is_new(world):
    lengths = Counter(len(y.split()) for _, y in world.qa_train + world.qa_heldout)
    assert set(lengths) == {1, 2, 3, 4}
    assert not any(w in s.split() for s in world.statements_train
                   for w in ("question", "answer", "user", "assistant"))


def test_multi_answer_prompts_have_several_answers_at_the_stated_frequencies(world):
    assert len(world.multi_answer) == 3
    for prompt, frequencies in world.multi_answer.items():
        answers = Counter(y for x, y in world.qa_train if x == prompt)
        assert len(answers) == 3 and sum(frequencies.values()) == pytest.approx(1)
        assert ({y: n / sum(answers.values()) for y, n in answers.items()}
                == pytest.approx(frequencies))
        assert sorted(frequencies.values()) == pytest.approx([1 / 6, 1 / 3, 1 / 2])


def test_dialogues_alternate_user_and_assistant_with_true_answers(world):
    true_pairs = set(world.qa_train + world.qa_heldout)
    for dialogue in world.dialogues:
        assert [role for role, _ in dialogue] == ["user", "assistant"] * (len(dialogue) // 2)
        for (_, question), (_, answer) in zip(dialogue[::2], dialogue[1::2]):
            assert (f"question : {question} answer :", answer) in true_pairs
    with pytest.raises(ValueError, match="'robot'"):
        render_dialogue([("robot", "hello")])


def test_every_world_string_encodes_with_the_world_vocab(world):
    texts = (world.statements_train + world.statements_heldout
             + [render_dialogue(d) for d in world.dialogues])
    texts += [f"{x} {y}" for x, y in world.qa_train + world.qa_heldout]
    for text in texts:
        assert world.vocab.decode(world.vocab.encode(text, bos=True, eos=True)) == text
    assert 50 <= len(world.vocab) <= 150
