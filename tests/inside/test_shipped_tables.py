"""The shipped Inside tables, checked against the shipped checkpoints by independent paths.

Filters: activations recomputed from the weights alone (embedding rows times convolution taps),
not by the builder. Units: correlations recomputed with ``numpy.corrcoef`` on the model's
forward outputs. Both on the samples each table records.
"""

import hashlib
import json
import re
import shutil

import numpy as np
import pytest
import torch

import cnngru
from cnngru.corpus import load_corpus
from cnngru.inside import FILE, InsideTableError, load_table
from cnngru.inside import properties as props
from cnngru.models import VARIANTS
from cnngru.paths import SHIPPED

pytestmark = pytest.mark.skipif(not all((SHIPPED / v / FILE).is_file() for v in VARIANTS),
                                reason="the shipped Inside tables are not built")


@pytest.fixture(scope="module")
def shakespeare():
    return load_corpus("shakespeare")


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_table_carries_the_hash_of_the_weights_beside_it(variant):
    weights = (SHIPPED / variant / "model.safetensors").read_bytes()
    table = json.loads((SHIPPED / variant / FILE).read_text())
    assert table["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert table["variant"] == variant
    assert load_table(SHIPPED / variant).path.name == FILE


def test_a_table_for_other_weights_is_refused(tmp_path):
    folder = tmp_path / "hybrid"
    shutil.copytree(SHIPPED / "hybrid", folder)
    table = json.loads((folder / FILE).read_text())
    table["weights_sha256"] = "0" * 64
    (folder / FILE).write_text(json.dumps(table))
    with pytest.raises(InsideTableError, match="built for other weights.*cnngru inside build"):
        load_table(folder)
    (folder / FILE).unlink()
    with pytest.raises(InsideTableError, match="missing"):
        load_table(folder)


def drop(table: dict, *path):
    for step in path[:-1]:
        table = table[step]
    del table[path[-1]]


@pytest.mark.parametrize("edit, problem", [
    (lambda t: [], "a JSON list"),
    (lambda t: drop(t, "samples") or t, "samples is missing"),
    (lambda t: drop(t, "excerpt", "text") or t, "excerpt.text is missing"),
    (lambda t: t["units"].update(properties={}) or t, "units.properties is empty"),
    (lambda t: t["units"]["properties"]["word start"].update(top="x") or t,
     "units.properties\\['word start'\\].top should be a list"),
    (lambda t: drop(t, "filters", "items") or t, "filters.items is missing"),
    (lambda t: t["units"].update(count="many") or t, "units.count should be a whole number"),
    (lambda t: t["filters"]["items"][3].update(p99="high") or t, "filter 3: p99"),
    (lambda t: t["filters"]["items"][3].update(id=7) or t, "filter 3: its id is 7"),
    (lambda t: t["filters"]["items"][3]["top"].append(["ab", 2]) or t, "filter 3: top should hold"),
    (lambda t: t["filters"]["items"][3].update(labels=[["x"]]) or t, "filter 3: labels should hold"),
    (lambda t: t["units"]["properties"]["word start"]["top"].append([10_000, 0.5]) or t,
     "top should hold \\[unit below"),
])
def test_a_malformed_table_is_refused_when_loaded_naming_what_it_lacks(tmp_path, edit, problem):
    """A hand-edited or truncated table is refused with the file and the fix, never read
    half-way by the tab (which would break the demo at start)."""
    folder = tmp_path / "hybrid"
    shutil.copytree(SHIPPED / "hybrid", folder)
    (folder / FILE).write_text(json.dumps(edit(json.loads((folder / FILE).read_text()))))
    with pytest.raises(InsideTableError, match=f"{FILE}: not an Inside table \\(.*{problem}.*"
                                               "cnngru inside build"):
        load_table(folder)


def test_an_unreadable_table_is_refused_with_the_fix(tmp_path):
    folder = tmp_path / "hybrid"
    shutil.copytree(SHIPPED / "hybrid", folder)
    (folder / FILE).unlink()
    (folder / FILE).mkdir()  # e.g. a folder where the file should be
    with pytest.raises(InsideTableError, match="unreadable.*cnngru inside build"):
        load_table(folder)


def test_the_excerpt_starts_at_the_speech_with_the_first_stage_direction():
    from cnngru.inside.build import excerpt_start
    assert excerpt_start("A\nx\n\nROMEO\n[Aside] hi") == len("A\nx\n\n")
    assert excerpt_start("ROMEO\n[Aside] hi") == 0  # no blank line before it: the start
    assert excerpt_start("no brackets here") == 0


def test_tables_are_small_and_cnn_post_says_what_it_leaves_out():
    for v in VARIANTS:
        assert (SHIPPED / v / FILE).stat().st_size < 120_000
    assert "no fixed window" in load_table(SHIPPED / "cnn-post").left_out


def direct_activations(bundle, bank: dict, ids: np.ndarray) -> np.ndarray:
    """(N - window + 1, channels): each full window's activation from the weights alone:
    bias + sum over taps j of weight[:, :, j] . embedding[id at tap j]."""
    conv = bundle.model.get_submodule(bank["name"])
    w = conv.weight.detach().double().numpy()  # (F, E, k)
    e = bundle.model.embed.weight.detach().double().numpy()  # (V, E)
    k = bank["window"]
    assert w.shape[2] == k, "these shipped filters read the embedding directly"
    out = np.zeros((len(ids) - k + 1, w.shape[0])) + conv.bias.detach().double().numpy()
    for j in range(k):
        out += (e @ w[:, :, j].T)[ids[j:len(ids) - k + 1 + j]]
    return out


def sample_texts(table, corpus, split: str) -> list[str]:
    """The blocks of ``split`` the table was built on, as its ``samples`` record them."""
    sample = table.data["samples"][split]
    text = corpus.split(split)
    return [text[s:s + sample["block_chars"]] for s in sample["starts"]]


@pytest.mark.parametrize("variant", ["cnn-pre", "hybrid"])
def test_listed_top_ngrams_give_each_filter_its_highest_activations(variant, shakespeare):
    bundle = cnngru.load(variant, device="cpu")
    table = load_table(SHIPPED / variant)
    blocks = sample_texts(table, shakespeare, "train")
    for bank in table.data["filters"]["banks"]:
        k = bank["window"]
        acts = [direct_activations(bundle, bank, np.asarray(bundle.vocab.encode(b)))
                for b in blocks]
        every = np.concatenate(acts)  # every window of the sample
        for c in (0, bank["channels"] // 2, bank["channels"] - 1):  # three filters per bank
            f = table.filters[bank["first"] + c]
            listed = [g for g, _, _ in f["top"]]
            # the best listed n-gram is the filter's highest activation on the sample
            assert f["top"][0][2] == pytest.approx(every[:, c].max(), abs=2e-3)
            # no n-gram outside the list beats the tenth listed one
            above = set()
            for b, a in zip(blocks, acts, strict=True):
                for t in np.flatnonzero(a[:, c] > f["top"][-1][2] + 2e-3):
                    above.add(b[t:t + k])
            assert above <= set(listed), (f["id"], above - set(listed))
            for gram, count, value in f["top"]:  # its value and count, found independently
                assert sum(len(re.findall(f"(?={re.escape(gram)})", b)) for b in blocks) == count
                ids = np.asarray(bundle.vocab.encode(gram))
                assert direct_activations(bundle, bank, ids)[0, c] == pytest.approx(value, abs=2e-3)


@pytest.mark.parametrize("variant", ["cnn-pre", "hybrid"])
def test_each_filters_p99_and_labels_follow_from_its_validation_activations(variant, shakespeare):
    """p99 is the 99th percentile of the filter's activations over the validation sample's
    whole windows; a label is a property that at least 70% of its 100 highest have."""
    bundle = cnngru.load(variant, device="cpu")
    table = load_table(SHIPPED / variant)
    texts = sample_texts(table, shakespeare, "validation")
    for bank in table.data["filters"]["banks"]:
        k = bank["window"]
        acts = np.concatenate([direct_activations(bundle, bank, np.asarray(bundle.vocab.encode(t)))
                               for t in texts])
        flags = {name: np.concatenate([fn(t, k)[k - 1:] for t in texts])
                 for name, (_, fn) in props.FILTER_PROPERTIES.items()}
        for c in (0, bank["channels"] // 2, bank["channels"] - 1):
            f = table.filters[bank["first"] + c]
            assert np.percentile(acts[:, c], 99) == pytest.approx(f["p99"], abs=2e-3)
            best = np.argsort(-acts[:, c], kind="stable")[:100]
            shares = {name: flag[best].mean() for name, flag in flags.items()}
            labelled = dict(f["labels"])
            for name, share in shares.items():  # (ties at the 100th may swap a position)
                if name in labelled:
                    assert share == pytest.approx(labelled[name], abs=0.02) and share >= 0.68
                else:
                    assert share < 0.72, (f["id"], name, share)


@pytest.mark.parametrize("variant", ["gru", "hybrid"])
def test_reported_unit_correlations_are_right(variant, shakespeare):
    bundle = cnngru.load(variant, device="cpu")
    table = load_table(SHIPPED / variant)
    texts = sample_texts(table, shakespeare, "validation")
    outputs = []
    with torch.inference_mode():
        for text in texts:  # the model's own outputs, each block read with the state carried
            ids, state = bundle.vocab.encode_tensor(text)[None], None
            for a in range(0, ids.shape[1], 2048):
                out = bundle.model(ids[:, a:a + 2048], state)
                state = out.state
                outputs.append(out.trace["units"][0].numpy())
    outputs = np.concatenate(outputs)
    for name, entry in table.unit_properties.items():
        fn = props.UNIT_PROPERTIES[name][2]
        values = np.concatenate([fn(t) for t in texts]).astype(float)
        for unit, r in entry["top"][:3]:
            assert np.corrcoef(outputs[:, unit], values)[0, 1] == pytest.approx(r, abs=2e-3)
        # and they are the strongest: no unit beyond the list has a larger |r|
        every = np.array([np.corrcoef(outputs[:, u], values)[0, 1]
                          for u in range(outputs.shape[1])])
        assert np.nanmax(np.abs(every)) == pytest.approx(abs(entry["top"][0][1]), abs=2e-3)


def test_readme_block_says_what_the_shipped_tables_say():
    from cnngru.evaluation.readme_blocks import read_block
    from cnngru.inside.summary import shipped_tables, summary_markdown

    tables = shipped_tables()
    assert set(tables) == {"gru", "cnn-pre", "cnn-post", "hybrid"}
    assert read_block("inside") == summary_markdown(tables)
