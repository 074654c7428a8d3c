"""The output naming rule (imgpool.shared.outnames): unique, deterministic, never an input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imgpool.shared.outnames import OutputNamer, assign_stems, candidate_stems, natural_stem

# Names made from few letters and extensions, so collisions are common.
_segment = st.text(alphabet="aAb.", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
_name = st.lists(_segment, min_size=1, max_size=2).map("/".join).map(
    lambda n: n + st_ext_cycle(n))
_suffixes = st.lists(st.sampled_from([".webp", ".png", ".jpg", ".WEBP"]), min_size=1,
                     max_size=2, unique_by=str.casefold)


def st_ext_cycle(name: str) -> str:
    return [".jpg", ".png", ".webp", ""][len(name) % 4]


_items = st.lists(st.tuples(_name, _suffixes), max_size=12, unique_by=lambda t: t[0])


def _outputs(items, stems):
    return [(s.stem + suffix).casefold() for (_, suffixes), s in zip(items, stems)
            for suffix in suffixes]


@given(_items, st.lists(_name, max_size=4))
def test_outputs_are_unique_and_never_an_input(items, inputs):
    reserved = {name for name, _ in items} | set(inputs)
    stems = assign_stems(items, reserved)
    outs = _outputs(items, stems)
    assert len(outs) == len(set(outs))
    assert not set(outs) & {r.casefold() for r in reserved}


@given(_items)
def test_the_same_inputs_get_the_same_names(items):
    assert assign_stems(items) == assign_stems(list(items))


@given(_items)
def test_the_first_claim_keeps_the_usual_name(items):
    stems = assign_stems(items)
    if items:
        assert stems[0].stem == natural_stem(items[0][0]) and not stems[0].renamed_from
    for (name, _), s in zip(items, stems):
        assert s.renamed_from in ("", natural_stem(name))
        assert (s.stem == natural_stem(name)) == (not s.renamed_from)


def test_the_second_of_a_pair_says_where_it_came_from():
    a_jpg, a_png = assign_stems([("a.jpg", [".webp"]), ("a.png", [".webp"])])
    assert (a_jpg.stem, a_jpg.renamed_from) == ("a", "")
    assert (a_png.output(".webp"), a_png.renamed_from) == ("a.png.webp", "a")


def test_numbered_when_both_usual_names_are_taken():
    stems = assign_stems([("a.jpg", [".webp"]), ("a.png.webp", [".webp"]),
                          ("a.png", [".webp"])])
    assert [s.output(".webp") for s in stems] == ["a.webp", "a.png.webp", "a.png (2).webp"]


def test_case_only_differences_collide_and_a_kept_original_is_claimed():
    namer = OutputNamer()
    assert namer.claim("A.jpg", [".webp", ".jpg"]).stem == "A"
    assert namer.claim("a.jpeg", [".webp"]).stem == "a.jpeg"      # a.webp ~ A.webp
    assert namer.claim("x/A.jpg", [".webp"]).stem == "x/A"         # other folder: free
    assert namer.owner("a.JPG") == "A.jpg"


def test_candidates_of_a_name_without_extension():
    got = candidate_stems("README")
    assert [next(got), next(got)] == ["README", "README (2)"]


def test_take_claims_exactly_one_output_if_it_is_free():
    namer = OutputNamer(reserved=["in.jpg"])
    namer.claim("a.jpg", [".jpg"])
    assert not namer.take("a.png", "a.jpg") and not namer.take("x.png", "IN.jpg")
    assert namer.take("a.png", "a.png.jpg") and namer.take("a.png", "a.png.jpg")
    assert namer.owner("a.png.jpg") == "a.png"
