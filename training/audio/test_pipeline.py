"""Tests of the speech data pipeline (numpy + scipy; the synthesis test needs unpack-debs.sh).

    python3 -m pytest training/audio/test_pipeline.py
    # with the engines: eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/tts)" first
"""
import ast
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import wave

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import prepare_text  # noqa: E402
import synthesize  # noqa: E402

HERE = os.path.dirname(__file__)


def tone(freq, seconds, sr=data.SR, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def peak_hz(x, sr=data.SR):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x)


# ---------------------------------------------------------------- text

def test_normalise_keeps_plain_sentences_and_apostrophes():
    assert prepare_text.normalise("Don't panic -- it's only a 'test', he said.") == \
        "don't panic it's only a test he said"
    assert prepare_text.normalise("A well-known \u201cquote\u201d\u2014here.") == \
        "a well known quote here"


@pytest.mark.parametrize("raw", [
    "In 1999 we met.",              # digit
    "The NASA probe flew away.",    # acronym
    "Henry VIII had wives.",        # roman numeral
    "Mr. Smith went home early.",   # abbreviation
    "Use e.g. this one here.",      # inner period
    "Cats & dogs live here.",       # symbol
    "Plan B failed us all.",        # single letter other than a/i/o
    "Too short.",                   # < 3 words
])
def test_normalise_drops_what_tts_would_expand(raw):
    assert prepare_text.normalise(raw) is None


def test_normalise_recases_kjv_lord():
    assert prepare_text.normalise("The LORD is my shepherd.", ("LORD", "GOD")) == \
        "the lord is my shepherd"


def test_sentence_split():
    assert prepare_text.split_sentences("One two three. Four five six! \"Seven eight?\" Nine.") == \
        ["One two three.", "Four five six!", "\"Seven eight?\"", "Nine."]


def test_vocab_roundtrip_and_error():
    ids = data.encode_text("it's a test")
    assert data.decode_ids(ids) == "it's a test"
    assert len(data.VOCAB) == 29 and data.VOCAB[0] == "<blank>"
    with pytest.raises(ValueError, match="'7'"):
        data.encode_text("route 7")


def test_fbank_options_match_the_fixture_script():
    tree = ast.parse(open(os.path.join(HERE, "make_fbank_fixture.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "OPTIONS":
            opts = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords}
    assert opts == data.FBANK_OPTIONS


# ---------------------------------------------------------------- augmentation

@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length_and_pitch(factor):
    x = tone(440, 1.0)
    y = data.speed_perturb(x, factor)
    assert abs(len(y) - len(x) / factor) <= 2
    assert abs(peak_hz(y) - 440 * factor) < 3


@pytest.mark.parametrize("n", [1 << 17, 131071])  # 2^17 - 1 is prime: shaped longer, then cut
@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -10.0), ("brown", -20.0)])
def test_colored_noise_slope(kind, slope, n):
    rng = np.random.default_rng(0)
    w = data.colored_noise(n, kind, rng)
    assert w.shape == (n,) and w.dtype == np.float32
    assert abs(np.sqrt(np.mean(w**2)) - 1) < 1e-3
    p = np.abs(np.fft.rfft(w)) ** 2
    f = np.fft.rfftfreq(len(w), 1 / data.SR)
    sel = (f > 50) & (f < 5000)
    fit = np.polyfit(np.log10(f[sel]), 10 * np.log10(p[sel]), 1)[0]  # dB per decade
    assert abs(fit - slope) < 1.5


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_add_noise_hits_snr(snr):
    rng = np.random.default_rng(1)
    x = np.concatenate([tone(300, 0.5), np.zeros(8000, np.float32), tone(500, 0.5, amp=0.3)])
    n = data.colored_noise(len(x) // 3, "pink", rng)  # shorter: tiled
    y = data.add_noise(x, n, snr)
    got = 10 * np.log10(data.speech_power(x) / np.mean((y - x) ** 2))
    assert abs(got - snr) < 0.05


def test_exp_decay_ir_rt60_drr_and_energy():
    rng = np.random.default_rng(2)
    rt60, drr = 0.5, 6.0
    ir = data.exp_decay_ir(rt60, drr, rng, predelay_ms=0.0)
    assert abs(np.sum(ir.astype(np.float64) ** 2) - 1) < 1e-4
    assert abs(10 * np.log10(ir[0] ** 2 / np.sum(ir[1:] ** 2)) - drr) < 0.01
    # Schroeder backward integral of the tail: -60 dB per rt60 -> slope over -5..-25 dB
    edc = np.cumsum((ir[1:] ** 2)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t = np.arange(len(edc_db)) / data.SR
    sel = (edc_db < -5) & (edc_db > -25)
    slope = np.polyfit(t[sel], edc_db[sel], 1)[0]
    assert abs(-60 / slope - rt60) < 0.05


def test_reverberate_keeps_length_and_rms():
    rng = np.random.default_rng(3)
    x = tone(700, 0.7)
    y = data.reverberate(x, data.exp_decay_ir(0.4, 3.0, rng))
    assert len(y) == len(x)
    assert abs(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x**2)) - 1) < 1e-4
    assert not np.allclose(y, x, atol=1e-2)


def test_augmenter_is_seeded_and_bounded():
    x = tone(200, 1.5) * np.linspace(0, 1, 24000, dtype=np.float32)
    src = lambda r: tone(float(r.uniform(100, 900)), float(r.uniform(0.3, 2.0)))  # noqa: E731
    aug = data.Augmenter(p_speed=1, p_reverb=1, p_noise=1, p_babble=0.5)
    outs = [aug(x, np.random.default_rng([7, 0, i]), src) for i in (0, 0, 1)]
    assert np.array_equal(outs[0][0], outs[1][0]) and outs[0][1] == outs[1][1]
    assert not np.array_equal(outs[0][0][:1000], outs[2][0][:1000])
    for y, info in outs:
        assert y.dtype == np.float32 and np.max(np.abs(y)) <= 1.0
        assert {"speed", "rt60", "noise", "gain_db"} <= set(info)


# ---------------------------------------------------------------- synthesis helpers

def wav_bytes(x, sr, streaming=False):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
        w.writeframes(x.astype("<i2").tobytes())
    b = bytearray(buf.getvalue())
    if streaming:  # espeak-ng --stdout writes 0x7fffffff-ish sizes it cannot know
        b[4:8] = struct.pack("<I", 0x7FFFFFFF)
        b[40:44] = struct.pack("<I", 0x7FFFFFFF - 36)
    return bytes(b)


@pytest.mark.parametrize("sr", [8000, 22050])
def test_parse_wav_and_resample_to_16k(sr):
    x = np.round(tone(440, 1.0, sr=sr) * 32767).astype(np.int16)
    y, got_sr = synthesize.parse_wav(wav_bytes(x, sr, streaming=(sr == 22050)))
    assert got_sr == sr and np.array_equal(y, x)
    z = synthesize.to_16k(y, sr)
    assert z.dtype == np.int16 and abs(len(z) - 16000) <= 1
    assert abs(peak_hz(z.astype(np.float32)) - 440) < 2


def fake_voices_and_sentences(tmp_path):
    """Train and held-out voices over a fake espeak-ng data folder, and four sentences."""
    vdir = tmp_path / "espeak-ng-data" / "voices" / "!v"
    vdir.mkdir(parents=True)
    for v in ["f1", "f2", "m3", "m4", "klatt", "klatt3", "whisper"]:
        (vdir / v).write_text("")
    tr, held = synthesize.voice_sets(str(tmp_path))
    return tr, held, [("s", f"sentence number {w}") for w in ("one", "two", "three", "four")]


def test_jobs_hold_out_voices_and_are_deterministic(tmp_path):
    tr, held, sents = fake_voices_and_sentences(tmp_path)
    a = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0)
    b = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0)
    assert a == b and len(a) == 400
    used = {(j["engine"], j["variant"] if j["engine"] == "espeak" else j["voice"]) for j in a}
    assert not used & {("espeak", v) for v in synthesize.HELDOUT_ESPEAK_VARIANTS}
    assert not used & {("flite", v) for v in synthesize.HELDOUT_FLITE}
    assert {e for e, _ in used} == {"espeak", "flite", "festival"}
    # test-sentences keeps the draw it was rendered with: espeak-ng and flite voices only
    ts = synthesize.make_jobs("test-sentences", sents, tr, held, 0, 5, 0)
    assert {j["engine"] for j in ts} <= {"espeak", "flite"}
    tv = synthesize.make_jobs("test-voices", sents, tr, held, 0, 5, 3)
    got = {(j["engine"], j["variant"] or j["voice"]) for j in tv}
    assert got == {("espeak", v) for v in synthesize.HELDOUT_ESPEAK_VARIANTS} | \
        {("flite", v) for v in synthesize.HELDOUT_FLITE}
    assert len(tv) == 3 * len(held)
    # the held-out job lists are pinned: this hash is what the code before festival (commit
    # 8ca69f9, which rendered the held-out sets) gives for these arguments
    pinned = [synthesize.make_jobs("test-sentences", sents * 25, tr, held, 0, 5, 0),
              synthesize.make_jobs("test-voices", sents * 25, tr, held, 0, 5, 20)]
    assert hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest() == \
        "f2a75fd9caeaf75da3f6b83dfb72610ecb0b48d15d8a0a9a84a2d336ab4b94f2"


def count_engines(jobs, *engines):
    return {e: sum(j["engine"] == e for j in jobs) for e in engines}


def assert_never_in_held_out_sets(engine, sents, tr, held):
    """The held-out job lists take no engine shares: `engine` never speaks in them."""
    for split, per in (("test-sentences", 0), ("test-voices", 3)):
        assert all(j["engine"] != engine for j in synthesize.make_jobs(split, sents, tr, held, 0, 5, per))


def test_gnuspeech_share_leaves_the_train_split_alone_at_zero(tmp_path):
    tr, held, sents = fake_voices_and_sentences(tmp_path)
    sents = sents * 25
    # pinned: what the code before the gnuspeech engine (commit bd8e14a) gives
    zero = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0)
    assert hashlib.sha256(json.dumps(zero, sort_keys=True).encode()).hexdigest() == \
        "fbef7ace22cdbadc0b769d19bd45d49aafd6d206642db977def682a23ef731e8"
    some = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.25)
    assert some == synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.25)
    gnu = [j for j in some if j["engine"] == "gnuspeech"]
    assert 60 < len(gnu) < 140
    assert {j["voice"] for j in gnu} == set(synthesize.GNUSPEECH_VOICES)
    assert all(0.8 <= j["rate"] <= 1.25 and j["pitch"] == 0 for j in gnu)
    # every utterance another vocal tract, around its preset
    for j in gnu:
        length, pitch = synthesize.GNUSPEECH_VOICES[j["voice"]]
        p = j["params"]
        assert abs(p["vocal_tract_length"] / length - 1) <= 0.1 + 1e-9
        assert abs(p["reference_glottal_pitch"] - pitch) <= 3.05
        assert all(0.88 <= p[f"radius_{k}_coef"] <= 1.12 for k in range(1, 9))
    assert len({json.dumps(j["params"], sort_keys=True) for j in gnu}) == len(gnu)
    assert_never_in_held_out_sets("gnuspeech", sents, tr, held)


@pytest.mark.parametrize("flag", ["--gnuspeech", "--rhvoice", "--mbrola", "--pico"])
@pytest.mark.parametrize("share", ["1.5", "-0.1"])
def test_engine_share_out_of_range_is_an_error(monkeypatch, flag, share):
    monkeypatch.setattr(sys, "argv", ["synthesize.py", "--text", "x", "--out", "y",
                                      "--split", "train", flag, share])
    with pytest.raises(SystemExit, match=f"{flag} is a share of the train split, from 0 to 1"):
        synthesize.main()


def rendered_shard(tmp_path, jobs, engine, max_seconds):
    """Renders `jobs` (all of `engine`) as shard 0 in tmp_path and checks it came out whole and
    audible; returns its manifest and each utterance's length in samples."""
    idx, n, secs, was = synthesize.write_shard((str(tmp_path), 0, jobs))
    assert (n, was) == (len(jobs), False) and 1.0 < secs < max_seconds
    meta = json.load(open(tmp_path / "shard-00000.json"))
    assert [u["engine"] for u in meta["utts"]] == [engine] * len(jobs)
    ix = data.ShardIndex(str(tmp_path))
    for i in range(len(jobs)):
        assert np.max(np.abs(ix.waveform(i))) > 0.05
    return meta, [len(ix.waveform(i)) for i in range(len(jobs))]


def prosody_jobs(engine, specs):
    """One job of `engine` saying the same sentence for each (voice, rate, pitch) in specs."""
    return [{"id": f"{engine}{k}", "text": "hello there how are you", "source": "t", "engine": engine,
             "voice": v, "variant": "", "rate": r, "pitch": p} for k, (v, r, p) in enumerate(specs)]


def assert_renders_again_the_same(tmp_path, jobs):
    """Deterministic: the jobs rendered again (into tmp_path/again) give rendered_shard's samples."""
    os.makedirs(tmp_path / "again")
    synthesize.write_shard((str(tmp_path / "again"), 0, jobs))
    assert np.array_equal(np.load(tmp_path / "shard-00000.npy"),
                          np.load(tmp_path / "again" / "shard-00000.npy"))


def test_rhvoice_share_keeps_the_dev_voice_and_held_out_sets_apart(tmp_path):
    tr, held, sents = fake_voices_and_sentences(tmp_path)
    sents = sents * 25
    # share 0: the split the code before the rhvoice engine gave (the pinned hash above)
    zero = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0)
    assert hashlib.sha256(json.dumps(zero, sort_keys=True).encode()).hexdigest() == \
        "fbef7ace22cdbadc0b769d19bd45d49aafd6d206642db977def682a23ef731e8"
    some = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.25)
    assert some == synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.25)
    rh = [j for j in some if j["engine"] == "rhvoice"]
    assert 60 < len(rh) < 140
    # the dev voice (clb) never trains; the training voices are the three others
    assert {j["voice"] for j in rh} == set(synthesize.RHVOICE_VOICES)
    assert not set(synthesize.RHVOICE_VOICES) & set(synthesize.RHVOICE_DEV_VOICES)
    for j in rh:
        lo, hi = synthesize.RHVOICE_VOICES[j["voice"]]
        assert lo <= j["pitch"] <= hi and 0.8 <= j["rate"] <= 1.3
    # with gnuspeech too, gnuspeech draws first and rhvoice takes a share of the rest
    both = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.25, 0.25)
    n = count_engines(both, "gnuspeech", "rhvoice")
    assert 60 < n["gnuspeech"] < 140 and 40 < n["rhvoice"] < 110
    assert_never_in_held_out_sets("rhvoice", sents, tr, held)


def test_mbrola_share_takes_what_gnuspeech_and_rhvoice_leave_and_never_the_held_out_sets(tmp_path):
    tr, held, sents = fake_voices_and_sentences(tmp_path)
    sents = sents * 25
    # share 0: the split as before the mbrola engine (the pinned hash above, and with rhvoice)
    zero = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.0)
    assert hashlib.sha256(json.dumps(zero, sort_keys=True).encode()).hexdigest() == \
        "fbef7ace22cdbadc0b769d19bd45d49aafd6d206642db977def682a23ef731e8"
    assert synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.25, 0.0) == \
        synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.25)
    some = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.25)
    assert some == synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.25)
    mb = [j for j in some if j["engine"] == "mbrola"]
    assert 60 < len(mb) < 140
    assert {j["voice"] for j in mb} == set(synthesize.MBROLA_VOICES)
    assert all(120 <= j["rate"] <= 200 and 25 <= j["pitch"] <= 75 for j in mb)
    # after rhvoice: a share of what rhvoice leaves
    both = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.25, 0.25)
    n = count_engines(both, "rhvoice", "mbrola")
    assert 60 < n["rhvoice"] < 140 and 40 < n["mbrola"] < 110
    assert_never_in_held_out_sets("mbrola", sents, tr, held)


def test_pico_share_takes_what_the_other_engines_leave_and_never_the_held_out_sets(tmp_path):
    from pico_render import PICO_VOICES
    tr, held, sents = fake_voices_and_sentences(tmp_path)
    sents = sents * 25
    # share 0: the split as before the pico engine (the pinned hash above, and with mbrola)
    zero = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.0, 0.0)
    assert hashlib.sha256(json.dumps(zero, sort_keys=True).encode()).hexdigest() == \
        "fbef7ace22cdbadc0b769d19bd45d49aafd6d206642db977def682a23ef731e8"
    assert synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.2, 0.2, 0.0) == \
        synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.2, 0.2)
    some = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.0, 0.25)
    assert some == synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.0, 0.25)
    pc = [j for j in some if j["engine"] == "pico"]
    assert 60 < len(pc) < 140
    # every voice the job lists draw is one the renderer has lingware for
    assert {j["voice"] for j in pc} == set(synthesize.PICO_PROSODY) == set(PICO_VOICES)
    for j in pc:
        lo, hi = synthesize.PICO_PROSODY[j["voice"]]
        assert lo <= j["pitch"] <= hi and synthesize.PICO_SPEED[0] <= j["rate"] <= synthesize.PICO_SPEED[1]
    # after mbrola: a share of what the three engines before it leave
    both = synthesize.make_jobs("train", sents, tr, held, 400, 5, 0, 0.0, 0.0, 0.25, 0.25)
    n = count_engines(both, "mbrola", "pico")
    assert 60 < n["mbrola"] < 140 and 40 < n["pico"] < 110
    assert_never_in_held_out_sets("pico", sents, tr, held)


def test_pico_share_without_its_files_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("PICO_LANG", raising=False)
    monkeypatch.setattr(sys, "argv", ["synthesize.py", "--text", "x", "--out", "y",
                                      "--split", "train", "--pico", "0.1", "--espeak-data", "z"])
    with pytest.raises(SystemExit, match="--pico needs PICO_LANG and PICO_LIB"):
        synthesize.main()


@pytest.mark.skipif(not os.environ.get("PICO_LIB"), reason="needs PICO_LIB (fetch-pico.sh, unpacked)")
def test_pico_missing_lingware_is_a_clear_error(tmp_path):
    from pico_render import Pico, PicoError
    with pytest.raises(PicoError, match="lingware .*en-US_ta.bin is missing"):
        Pico(str(tmp_path), os.environ["PICO_LIB"])


@pytest.mark.skipif(not (os.environ.get("PICO_LANG") and os.environ.get("PICO_LIB")),
                    reason="needs Pico unpacked (fetch-pico.sh; PICO_LANG, PICO_LIB)")
def test_pico_refuses_an_unknown_voice_and_a_text_too_long_for_it():
    from pico_render import Pico, PicoError
    pico = Pico(os.environ["PICO_LANG"], os.environ["PICO_LIB"])
    with pytest.raises(PicoError, match="no voice 'en-AU'"):
        pico.say("hello", "en-AU")
    with pytest.raises(PicoError, match="at most 32,767 bytes"):
        pico.say("word " * 7000, "en-US")
    x, sr = pico.say("hello", "en-GB")  # and still speaks after both
    assert sr == 16000 and len(x) > 1600
    pico.close()


@pytest.mark.skipif(not (os.environ.get("PICO_LANG") and os.environ.get("PICO_LIB")
                         and os.environ.get("ESPEAK_NG_BIN") and os.environ.get("FLITE_BIN")),
                    reason="needs Pico unpacked (fetch-pico.sh; PICO_LANG, PICO_LIB) and "
                           "unpack-debs.sh's environment (the worker opens espeak-ng and flite)")
def test_render_with_pico(tmp_path):
    synthesize._init_worker()
    jobs = prosody_jobs("pico", (("en-US", 1.0, 1.0), ("en-US", 1.3, 1.0), ("en-GB", 1.0, 0.75),
                                 ("en-US", 0.8, 1.2)))
    _, lengths = rendered_shard(tmp_path, jobs, "pico", max_seconds=8.0)
    assert lengths[1] < lengths[0] < lengths[3]  # faster, then slower speech
    assert_renders_again_the_same(tmp_path, jobs)


def test_mbrola_missing_program_or_voice_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no executable .*bin/mbrola"):
        synthesize.prepare_mbrola(str(tmp_path), str(tmp_path))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mbrola").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "bin" / "mbrola", 0o755)
    with pytest.raises(SystemExit, match="no voice database .*voices/us1"):
        synthesize.prepare_mbrola(str(tmp_path), str(tmp_path))
    (tmp_path / "voices").mkdir()
    for v in synthesize.MBROLA_VOICES:
        (tmp_path / "voices" / v).write_bytes(b"db")
    data = tmp_path / "espeak"
    assert synthesize.prepare_mbrola(str(tmp_path), str(data)) == str(tmp_path / "bin")
    # linked where espeak-ng looks, and again without complaint
    assert synthesize.prepare_mbrola(str(tmp_path), str(data)) == str(tmp_path / "bin")
    for v in synthesize.MBROLA_VOICES:
        assert os.path.realpath(data / "espeak-ng-data" / "mbrola" / v) == str(tmp_path / "voices" / v)


@pytest.mark.skipif(not (os.environ.get("MBROLA_DIR") and os.environ.get("ESPEAK_NG_BIN")
                         and os.environ.get("ESPEAK_DATA_PATH")),
                    reason="needs MBROLA_DIR (fetch-mbrola.sh, unpacked) and unpack-debs.sh's environment")
def test_render_with_mbrola(tmp_path):
    synthesize.prepare_mbrola(os.environ["MBROLA_DIR"], os.environ["ESPEAK_DATA_PATH"])
    synthesize._init_worker()
    jobs = [{"id": f"m{k}", "text": "hello there how are you", "source": "t", "engine": "mbrola",
             "voice": v, "variant": "", "rate": r, "pitch": 50, "gap": 0}
            for k, (v, r) in enumerate((("us2", 140), ("us2", 200), ("us1", 140), ("en1", 140)))]
    _, lengths = rendered_shard(tmp_path, jobs, "mbrola", max_seconds=8.0)
    assert lengths[1] < lengths[0]  # a faster rate
    assert_renders_again_the_same(tmp_path, jobs)


def test_rhvoice_dev_voice_jobs_are_a_pure_function_of_their_arguments():
    import render_dev_voice
    sents = [("s", f"sentence {k}") for k in range(10)]
    a = render_dev_voice.dev_jobs(sents, "clb", 3, 5, 1)
    assert a == render_dev_voice.dev_jobs(sents, "clb", 3, 5, 1)
    assert [j["text"] for j in a] == [f"sentence {k}" for k in range(3, 8)]
    assert {j["engine"] for j in a} == {"rhvoice"} and {j["voice"] for j in a} == {"clb"}
    lo, hi = synthesize.RHVOICE_DEV_VOICES["clb"]
    assert all(lo <= j["pitch"] <= hi for j in a)
    assert a != render_dev_voice.dev_jobs(sents, "clb", 3, 5, 2)  # another seed, other prosody


@pytest.mark.skipif(not (os.environ.get("RHVOICE_DATA") and os.environ.get("RHVOICE_LIB")),
                    reason="needs RHVoice unpacked (fetch-rhvoice.sh; RHVOICE_DATA, RHVOICE_LIB, "
                           "RHVOICE_CONF)")
def test_render_with_rhvoice(tmp_path):
    synthesize._init_worker()
    jobs = prosody_jobs("rhvoice", (("bdl", 1.0, 1.0), ("bdl", 1.3, 1.0), ("slt", 1.0, 0.6)))
    _, lengths = rendered_shard(tmp_path, jobs, "rhvoice", max_seconds=8.0)
    assert lengths[1] < lengths[0]  # a faster rate
    assert_renders_again_the_same(tmp_path, jobs)


def test_rhvoice_missing_data_is_a_clear_error(tmp_path):
    from rhvoice_render import RHVoice, RHVoiceError
    lib = os.environ.get("RHVOICE_LIB")
    if not lib:
        pytest.skip("needs RHVOICE_LIB (fetch-rhvoice.sh)")
    with pytest.raises(RHVoiceError, match="no usable language or voice data"):
        RHVoice(str(tmp_path), lib)


@pytest.mark.skipif(not (os.environ.get("GNUSPEECH_MODULES") and shutil.which("node")
                         and os.environ.get("ESPEAK_NG_BIN") and os.environ.get("FLITE_BIN")),
                    reason="needs node, GNUSPEECH_MODULES (gnuspeech-render.mjs) and "
                           "unpack-debs.sh's environment (espeak-ng renders what it cannot say)")
def test_render_with_gnuspeech(tmp_path):
    synthesize._init_worker()
    jobs = [{"id": f"g{k}", "text": "hello there how are you", "source": "t",
             "engine": "gnuspeech", "voice": v, "variant": "", "rate": r, "pitch": 0,
             "params": {"vocal_tract_length": 16.0, "radius_3_coef": 1.1} if k else {}}
            for k, (v, r) in enumerate((("male", 1.0), ("female", 1.2)))]
    meta, lengths = rendered_shard(tmp_path, jobs, "gnuspeech", max_seconds=6.0)
    assert lengths[1] < lengths[0]  # a faster tempo
    # gnuspeech draws its source's noise from an unseeded generator: rendering again gives
    # the same timing (lengths), not the same samples
    os.makedirs(tmp_path / "again")
    synthesize.write_shard((str(tmp_path / "again"), 0, jobs))
    again = json.load(open(tmp_path / "again" / "shard-00000.json"))
    assert [u["length"] for u in again["utts"]] == [u["length"] for u in meta["utts"]]


@pytest.mark.skipif(not (os.environ.get("ESPEAK_NG_BIN") and os.environ.get("FLITE_BIN")),
                    reason="needs unpack-debs.sh's environment")
def test_render_with_real_engines(tmp_path):
    synthesize._init_worker()
    jobs = [{"id": "a", "text": "hello there how are you", "source": "t", "engine": "espeak",
             "voice": "en-us", "variant": "m3", "rate": 175, "pitch": 50, "gap": 0},
            {"id": "b", "text": "hello there how are you", "source": "t", "engine": "flite",
             "voice": "kal", "variant": "", "rate": 1.0, "pitch": 100}]
    idx, n, secs, was = synthesize.write_shard((str(tmp_path), 0, jobs))
    assert (n, was) == (2, False) and 1.0 < secs < 6.0
    ix = data.ShardIndex(str(tmp_path))
    for i in range(2):
        w = ix.waveform(i)
        assert 0.5 < len(w) / data.SR < 3.0 and np.max(np.abs(w)) > 0.05
    # deterministic: rendering again gives the same samples
    os.makedirs(tmp_path / "again")
    synthesize.write_shard((str(tmp_path / "again"), 0, jobs))
    assert np.array_equal(np.load(tmp_path / "again" / "shard-00000.npy"),
                          np.load(tmp_path / "shard-00000.npy"))


def test_collate_pads_to_a_multiple():
    torch = pytest.importorskip("torch")
    items = [{"feats": torch.ones(n, 80), "tokens": torch.tensor(data.encode_text(t)),
              "text": t, "meta": {}} for n, t in ((9, "ab"), (6, "abc d"))]
    b = data.collate(items, multiple=4)
    assert tuple(b["feats"].shape) == (2, 12, 80)
    assert b["feat_lens"].tolist() == [9, 6] and b["token_lens"].tolist() == [2, 5]
    assert b["feats"][1, 6:].abs().sum() == 0 and b["feats"][0, :9].min() == 1
    assert data.decode_ids(b["tokens"][1].tolist()) == "abc d"


def test_gpu_fbank_matches_kaldi_fbank():
    torch = pytest.importorskip("torch")
    kaldi = pytest.importorskip("torchaudio.compliance.kaldi")
    import gpu_fbank

    rng = np.random.default_rng(5)
    lengths = [16000, 12345, 401, 399, 4000]
    waves = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        x = rng.standard_normal(n) * 3000 * np.sin(np.arange(n) / 300.0)
        waves[i, :n] = torch.from_numpy(np.round(x).clip(-32768, 32767))
    feats, frames = gpu_fbank.fbank_batch(waves, torch.tensor(lengths))
    for i, n in enumerate(lengths):
        want = frames[i].item()
        assert want == gpu_fbank.frame_count(n)
        if want == 0:
            assert float(feats[i].abs().sum()) == 0.0
            continue
        ref = kaldi.fbank(waves[i:i + 1, :n], **data.FBANK_OPTIONS)
        assert ref.shape[0] == want
        assert float((feats[i, :want] - ref).abs().max()) < 2e-3
        assert float(feats[i, want:].abs().sum()) == 0.0


def test_exported_model_unfolds_for_more_training(tmp_path):
    torch = pytest.importorskip("torch")
    from rwkv_speech_model import SpeechConfig, SpeechModel

    torch.manual_seed(0)
    c = SpeechConfig(enc_layers=1, enc_dim=64, pred_dim=64, head_size=32, joiner_dim=32)
    m = SpeechModel(c)
    with torch.no_grad():
        m.set_normalization(torch.rand(80) * 6 + 8, torch.rand(80) * 3 + 2)
    m.export(str(tmp_path / "m.safetensors"))
    feats = torch.randn(1, 32, 80) * 4 + 12
    with torch.no_grad():
        want = m.ctc(m.encoder(feats)[0])
        back = SpeechModel.from_exported(str(tmp_path / "m.safetensors"))  # statistics from metadata
        assert torch.allclose(back.encoder.feat_shift, m.encoder.feat_shift)
        assert float((back.ctc(back.encoder(feats)[0]) - want).abs().max()) < 1e-4
        # other statistics give the same function (only the stem's parameterisation changes)
        other = SpeechModel.from_exported(str(tmp_path / "m.safetensors"), torch.zeros(80) + 5, torch.ones(80) * 3)
        assert float((other.ctc(other.encoder(feats)[0]) - want).abs().max()) < 1e-4


def test_gpu_fbank_warps_and_eq_match_kaldi_fbank_per_utterance():
    """The speaker augmentation on the GPU path equals kaldi.fbank with vtln_warp, plus the EQ
    curve, utterance by utterance (the CPU path computes exactly that)."""
    torch = pytest.importorskip("torch")
    kaldi = pytest.importorskip("torchaudio.compliance.kaldi")
    import gpu_fbank

    rng = np.random.default_rng(7)
    lengths = [16000, 9000, 4000]
    warps = torch.tensor([0.85, 1.0, 1.115])
    eqs = torch.stack([torch.from_numpy(data.spectral_eq(t, [(20.0, 8.0, 0.4)])) for t in (0.5, 0.0, -0.3)])
    waves = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        x = rng.standard_normal(n) * 3000 * np.sin(np.arange(n) / 250.0)
        waves[i, :n] = torch.from_numpy(np.round(x).clip(-32768, 32767))
    feats, frames = gpu_fbank.fbank_batch(waves, torch.tensor(lengths), warps, eqs)
    plain, _ = gpu_fbank.fbank_batch(waves, torch.tensor(lengths))
    for i, n in enumerate(lengths):
        t = frames[i].item()
        ref = kaldi.fbank(waves[i:i + 1, :n], **{**data.FBANK_OPTIONS, "vtln_warp": float(warps[i])}) + eqs[i]
        assert float((feats[i, :t] - ref).abs().max()) < 2e-3
    # a warp moves energy between bins: the features differ where it is not 1
    assert float((feats[0] - plain[0]).abs().max()) > 0.1
    t1 = frames[1].item()
    assert float((feats[1, :t1] - plain[1, :t1] - eqs[1]).abs().max()) < 1e-5
    assert float(feats[1, t1:].abs().sum()) == 0.0  # no EQ on the padding


def test_augmenter_speaker_draws_are_seeded_on_the_grid_and_bounded():
    aug = data.Augmenter(p_vtlp=1.0, p_eq=1.0)
    a = [aug.speaker(np.random.default_rng([3, 0, i])) for i in range(200)]
    b = [aug.speaker(np.random.default_rng([3, 0, i])) for i in range(200)]
    assert all(x[0] == y[0] and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    warps = np.array([w for w, _, _ in a])
    assert warps.min() >= 0.85 and warps.max() <= 1.15 and len(set(warps)) > 20
    assert np.allclose(np.round(warps / data.WARP_STEP) * data.WARP_STEP, warps, atol=1e-9)
    eqs = np.stack([e for _, e, _ in a])
    assert eqs.shape == (200, 80) and np.abs(eqs).max() <= 0.6 + 2 * 0.5 + 1e-6
    off = data.Augmenter().speaker(np.random.default_rng(1))
    assert off[0] == 1.0 and off[1] is None and off[2] == {}


def test_wider_eq_draws_scale_the_same_draws_and_reach_a_voice_like_rms():
    """--eq-tilt / --eq-bump: the same random draws (so 0.6 / 0.5 keep runs 4-8's curves bit for
    bit), each curve's tilt and bumps scaled; wide enough, some draws dip the mid band by more than
    1 log-power unit below the band's ends, as the held-out rms voice's spectrum does."""
    base = data.Augmenter(p_eq=1.0)
    same = data.Augmenter(p_eq=1.0, eq_tilt=0.6, eq_bump=0.5)
    wide = data.Augmenter(p_eq=1.0, eq_tilt=1.2, eq_bump=1.5)
    draws = [(base.speaker(np.random.default_rng([9, 0, i])), same.speaker(np.random.default_rng([9, 0, i])),
              wide.speaker(np.random.default_rng([9, 0, i]))) for i in range(300)]
    for b, s, w in draws:
        assert np.array_equal(b[1], s[1]) and b[2] == s[2]
        assert w[2]["eq_tilt"] == pytest.approx(2 * b[2]["eq_tilt"], abs=2e-3)
    wides = np.stack([w[1] for *_, w in draws])
    assert np.abs(wides).max() <= 1.2 + 2 * 1.5 + 1e-6
    dips = [float(e[:10].mean() + e[70:].mean()) / 2 - float(e[20:50].mean()) for e in wides]
    olds = [float(e[:10].mean() + e[70:].mean()) / 2 - float(e[20:50].mean()) for (b, *_) in draws for e in [b[1]]]
    assert max(olds) < 1.0 < max(dips)


def write_test_shard(folder, utterances):
    """One training shard in `folder`: [(samples in [-1, 1), text, engine, voice)] one after
    another in shard-00000.npy, their metadata in shard-00000.json."""
    utts, at = [], 0
    for k, (x, text, engine, voice) in enumerate(utterances):
        utts.append({"id": f"u{k}", "text": text, "offset": at, "length": len(x),
                     "duration": len(x) / 16000, "engine": engine, "voice": voice})
        at += len(x)
    pcm = np.concatenate([x for x, *_ in utterances])
    np.save(folder / "shard-00000.npy", np.round(pcm * 32767).astype("<i2"))
    json.dump({"sample_rate": 16000, "utts": utts}, open(folder / "shard-00000.json", "w"))


def test_shards_carry_the_speaker_transform_to_both_fbank_paths(tmp_path):
    """features=True applies it in kaldi.fbank; features=False hands it to collate for the GPU."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchaudio")
    import gpu_fbank

    rng = np.random.default_rng(2)
    x = (np.sin(np.arange(12000) / 40.0) * 0.3 + rng.standard_normal(12000) * 0.01).astype(np.float32)
    write_test_shard(tmp_path, [(x, "ab c", "espeak", "en")])
    aug = data.Augmenter(p_speed=0, p_reverb=0, p_noise=0, gain_db=(0.0, 0.0), p_vtlp=1.0, p_eq=1.0)
    cpu = data.SpeechShards(str(tmp_path), augment=aug, seed=4, features=True)[0]
    gpu_item = data.SpeechShards(str(tmp_path), augment=aug, seed=4, features=False)[0]
    assert cpu["meta"]["augment"]["vtlp"] == gpu_item["warp"] != 1.0
    b = data.collate([gpu_item], multiple=4)
    feats, frames = gpu_fbank.fbank_batch(b["waves"], b["wave_lens"], b["warps"], b["eqs"])
    t = frames[0].item()
    assert t == cpu["feats"].shape[0]
    assert float((feats[0, :t] - cpu["feats"]).abs().max()) < 2e-3



def test_hts_voice_with_f0_shifts_only_the_log_f0_means(tmp_path):
    # a small voice file in the HTS_VOICE_VERSION 1.0 layout: LF0 pdfs of 2 states (3 + 2
    # pdfs; 1 x 3 windows: 3 means, 3 variances, a voiced weight) between other data
    lf0 = np.arange(5 * 7, dtype="<f4").reshape(5, 7) / 10
    pdf = np.array([3, 2], "<u4").tobytes() + lf0.tobytes()
    before, after = b"\x01" * 11, b"\x02" * 9
    head = (f"[GLOBAL]\nNUM_STATES:2\n[STREAM]\nVECTOR_LENGTH[LF0]:1\nNUM_WINDOWS[LF0]:3\n"
            f"[POSITION]\nSTREAM_PDF[LF0]:{len(before)}-{len(before) + len(pdf) - 1}\n[DATA]\n").encode()
    (tmp_path / "v.htsvoice").write_bytes(head + before + pdf + after)
    synthesize.hts_voice_with_f0(str(tmp_path / "v.htsvoice"), str(tmp_path / "w.htsvoice"), 1.25)
    out = (tmp_path / "w.htsvoice").read_bytes()
    assert len(out) == len(head + before + pdf + after) and out.startswith(head + before)
    assert out.endswith(after)
    a = len(head + before) + 8
    got = np.frombuffer(out[a:a + lf0.nbytes], "<f4").reshape(5, 7)
    assert np.allclose(got[:, 0], lf0[:, 0] + np.log(1.25), atol=1e-6)
    assert np.array_equal(got[:, 1:], lf0[:, 1:])


@pytest.mark.skipif(not (os.environ.get("FESTIVAL_LIBDIR") and os.environ.get("ESPEAK_NG_BIN")),
                    reason="needs unpack-debs.sh's environment (with festival)")
def test_render_festival_voices_in_one_process(tmp_path):
    synthesize._init_worker()
    text = "hello there how are you"
    jobs = [{"id": f"f{i}", "text": t, "source": "t", "engine": "festival", "voice": v,
             "variant": "", "rate": rate, "pitch": pitch}
            for i, (v, rate, pitch, t) in enumerate([
                ("ked_diphone", 1.0, 100, text),
                ("ked_diphone", 1.2, 130, 'she said "no" and left'),
                ("cmu_us_slt_arctic_hts", 1.1, 0, text),  # 0: the voice's own model
                ("cmu_us_slt_arctic_hts", 1.1, 150, text),
                ("ked_diphone", 1.0, 130, text),
                ("cmu_us_slt_arctic_hts", 1.1, 200, text)])]
    # an utterance festival cannot say falls back to espeak-ng instead of failing the shard
    jobs.append({**jobs[0], "id": "bad", "text": "x" * 0})
    idx, n, secs, was = synthesize.write_shard((str(tmp_path), 0, jobs))
    assert n == 7 and not was
    meta = json.load(open(tmp_path / "shard-00000.json"))["utts"]
    assert [u["engine"] for u in meta] == ["festival"] * 6 + ["espeak"]
    assert meta[6]["voice"] == "en-us" and meta[6]["length"] > 0
    assert not os.path.exists(tmp_path / "shard-00000.festival.tmp")
    ix = data.ShardIndex(str(tmp_path))
    w = [ix.waveform(i) for i in range(6)]
    for x in w:  # 16 kHz speech of a sane length and level
        assert 0.8 < len(x) / data.SR < 3.5 and 0.05 < np.max(np.abs(x)) <= 1.0
    # pitch follows the job: the diphone voice's target mean, the HTS voice's shifted model
    f0 = [data.median_f0(x) for x in w]
    assert abs(f0[0] / 100 - 1) < 0.12 and abs(f0[4] / 130 - 1) < 0.12
    own = synthesize.HTS_VOICES["cmu_us_slt_arctic_hts"][1]  # its median F0 over many sentences
    assert abs(f0[3] / f0[2] / (150 / own) - 1) < 0.03 and abs(f0[5] / f0[2] / (200 / own) - 1) < 0.03
    assert 150 < f0[2] < 200
    # the HTS voice's speed follows the rate: slower when stretched; its F0 shift keeps durations
    fast = synthesize.render_festival([{**jobs[2], "rate": 0.9}], synthesize._BINS, str(tmp_path))[0]
    slow = synthesize.render_festival([{**jobs[2], "rate": 1.2}], synthesize._BINS, str(tmp_path))[0]
    assert len(slow) > 1.15 * len(fast)
    assert len(w[3]) == len(w[5])
    # deterministic: rendering again gives the same samples
    os.makedirs(tmp_path / "again")
    synthesize.write_shard((str(tmp_path / "again"), 0, jobs))
    assert np.array_equal(np.load(tmp_path / "again" / "shard-00000.npy"),
                          np.load(tmp_path / "shard-00000.npy"))
    assert json.load(open(tmp_path / "again" / "shard-00000.json"))["utts"] == meta


# ---------------------------------------------------------------- toward the held-out flite voice

def harmonic_vowel(f0, formant, seconds=1.0, sr=data.SR):
    """A buzz at f0 through one resonance at `formant` Hz (bandwidth 120 Hz)."""
    from scipy.signal import lfilter
    n = int(seconds * sr)
    src = np.zeros(n)
    src[:: int(sr / f0)] = 1.0
    r, th = np.exp(-np.pi * 120 / sr), 2 * np.pi * formant / sr
    return lfilter([1.0], [1, -2 * r * np.cos(th), r * r], src).astype(np.float32) * 0.05


def envelope_peak_hz(x, sr=data.SR):
    """The frequency of the cepstrally smoothed spectrum's maximum above 300 Hz."""
    spec = np.log(np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-9)
    c = np.fft.irfft(spec)
    keep = int(0.002 * sr)
    c[keep:len(c) - keep + 1] = 0
    env = np.fft.rfft(c).real
    f = np.fft.rfftfreq(len(x), 1 / sr)
    sel = f > 300
    return f[sel][np.argmax(env[sel])]


@pytest.mark.parametrize("factor", [0.85, 1.2])
def test_formant_shift_moves_the_envelope_and_keeps_f0_and_length(factor):
    x = harmonic_vowel(125, 1000)
    y = data.formant_shift(x, factor)
    assert len(y) == len(x) and y.dtype == np.float32
    assert abs(envelope_peak_hz(x) - 1000) < 60
    assert abs(envelope_peak_hz(y) / (1000 * factor) - 1) < 0.08
    assert abs(data.median_f0(y) / data.median_f0(x) - 1) < 0.02  # the harmonics stay where they were
    # nothing to move: exactly x back (the factor-1 path), and the STFT alone rebuilds x
    assert np.array_equal(data.formant_shift(x, 1.0), x)
    assert np.max(np.abs(data.formant_shift(x, 1.0 + 1e-5) - x)) < 1e-3 * np.max(np.abs(x))


def test_augmenter_formant_shift_only_for_few_voice_engines_and_off_by_default():
    x = harmonic_vowel(110, 800, 1.2)
    base = dict(p_speed=1, p_reverb=1, p_noise=1, p_babble=0)
    old = data.Augmenter(**base)(x, np.random.default_rng([5, 0, 1]))
    # p_formant 0 (the default) draws nothing: the chain of before, bit for bit
    off = data.Augmenter(**base, p_formant=0.0)(x, np.random.default_rng([5, 0, 1]), engine="flite")
    assert np.array_equal(old[0], off[0]) and old[1] == off[1]
    on = data.Augmenter(**base, p_formant=1.0)
    for engine in ("espeak", "flite", "festival"):
        y, info = on(x, np.random.default_rng([5, 0, 1]), engine=engine)
        if engine == "espeak":  # espeak-ng's 792 voice/variant pairs: left alone
            assert "formant" not in info and np.array_equal(y, old[0])
        else:
            assert 0.8 <= info["formant"] <= 1.2 and np.max(np.abs(y)) <= 1.0
    again = on(x, np.random.default_rng([5, 0, 1]), engine="flite")
    assert np.array_equal(again[0], on(x, np.random.default_rng([5, 0, 1]), engine="flite")[0])


def test_train_jobs_widen_female_f0_and_warp_the_hts_voice_and_held_out_jobs_do_not(tmp_path):
    vdir = tmp_path / "espeak-ng-data" / "voices" / "!v"
    vdir.mkdir(parents=True)
    for v in ["f1", "f2", "m3", "m4", "klatt", "klatt3"]:
        (vdir / v).write_text("")
    tr, held = synthesize.voice_sets(str(tmp_path))
    sents = [("s", f"sentence number {w}") for w in ("one", "two", "three", "four")]
    jobs = synthesize.make_jobs("train", sents, tr, held, 3000, 1, 0)
    assert jobs == synthesize.make_jobs("train", sents, tr, held, 3000, 1, 0)
    hts = [j for j in jobs if j["voice"] == "cmu_us_slt_arctic_hts"]
    slt = [j["pitch"] for j in jobs if j["engine"] == "flite" and j["voice"] == "slt"]
    assert len(hts) > 150 and len(slt) > 150
    alphas = np.array([j["alpha"] for j in hts])
    assert alphas.min() >= 0.38 and alphas.max() <= 0.53 and len(set(alphas)) > 10
    assert min(j["pitch"] for j in hts) < 110 and min(slt) < 110 and max(slt) > 200
    assert all("alpha" not in j for j in jobs if j["voice"] != "cmu_us_slt_arctic_hts")
    for split, n, per in (("test-sentences", 0, 0), ("test-voices", 0, 3)):
        held_jobs = synthesize.make_jobs(split, sents * 25, tr, held, n, 1, per)
        assert all("alpha" not in j for j in held_jobs)
        assert all(135 <= j["pitch"] <= 215 for j in held_jobs if j["voice"] == "slt")


def test_hts_voice_with_f0_sets_the_all_pass_constant(tmp_path):
    lf0 = np.arange(2 * 7, dtype="<f4").reshape(2, 7) / 10
    pdf = np.array([1, 1], "<u4").tobytes() + lf0.tobytes()
    before, after = b"\x03" * 5, b"\x04" * 6
    head = (f"[GLOBAL]\nNUM_STATES:2\n[STREAM]\nVECTOR_LENGTH[LF0]:1\nNUM_WINDOWS[LF0]:3\n"
            f"OPTION[MCP]:ALPHA=0.45\nOPTION[LF0]:\n[POSITION]\n"
            f"STREAM_PDF[LF0]:{len(before)}-{len(before) + len(pdf) - 1}\n[DATA]\n").encode()
    (tmp_path / "v.htsvoice").write_bytes(head + before + pdf + after)
    synthesize.hts_voice_with_f0(str(tmp_path / "v.htsvoice"), str(tmp_path / "w.htsvoice"), 1.0, 0.5)
    out = (tmp_path / "w.htsvoice").read_bytes()
    assert out == head.replace(b"ALPHA=0.45", b"ALPHA=0.5") + before + pdf + after
    synthesize.hts_voice_with_f0(str(tmp_path / "v.htsvoice"), str(tmp_path / "x.htsvoice"), 1.0)
    assert (tmp_path / "x.htsvoice").read_bytes() == head + before + pdf + after


@pytest.mark.skipif(not (os.environ.get("FESTIVAL_LIBDIR") and os.environ.get("ESPEAK_NG_BIN")),
                    reason="needs unpack-debs.sh's environment (with festival)")
def test_render_hts_voice_warped_keeps_f0_and_durations(tmp_path):
    synthesize._init_worker()
    job = {"id": "h", "text": "a time to weep and a time to laugh", "source": "t", "engine": "festival",
           "voice": "cmu_us_slt_arctic_hts", "variant": "", "rate": 1.0, "pitch": 110}
    a, b, c = synthesize.render_festival([{**job, "alpha": 0.38}, {**job, "alpha": 0.53}, job],
                                         synthesize._BINS, str(tmp_path))
    assert len(a) == len(b) == len(c)  # durations are the model's, not the warp's
    fa, fb = data.median_f0(a / 32768.0), data.median_f0(b / 32768.0)
    assert abs(fa / 110 - 1) < 0.1 and abs(fb / fa - 1) < 0.03

    def centroid(x):
        p = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        return float((p * np.fft.rfftfreq(len(x), 1 / data.SR)).sum() / p.sum())
    assert centroid(b) < centroid(c) < centroid(a)  # a larger all-pass constant: lower formants


def test_shards_hand_the_engine_to_the_formant_shift(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("torchaudio")
    x = harmonic_vowel(120, 900, 0.75)
    write_test_shard(tmp_path, [(x, "ab", "espeak", "en"), (x, "ab", "flite", "awb")])
    aug = data.Augmenter(p_speed=0, p_reverb=0, p_noise=0, p_formant=1.0)
    ds = data.SpeechShards(str(tmp_path), augment=aug, seed=3)
    assert "formant" not in ds[0]["meta"]["augment"] and "formant" in ds[1]["meta"]["augment"]


def test_pad_none_drops_the_silence_before_a_share_of_utterances_and_0_keeps_the_old_draws(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("torchaudio")
    rng = np.random.default_rng(5)
    x = (np.sin(np.arange(8000) / 30.0) * 0.3 + rng.standard_normal(8000) * 0.01).astype(np.float32)
    write_test_shard(tmp_path, [(x, "ab", "espeak", "en")])
    aug = data.Augmenter(p_speed=0, p_reverb=0, p_noise=0, gain_db=(0.0, 0.0))

    def first_loud_sample(ds, epoch):
        ds.set_epoch(epoch)
        w = ds[0]["wave"].numpy().ravel()
        return int(np.argmax(np.abs(w) > 0.05 * 32768)), len(w)

    base = data.SpeechShards(str(tmp_path), augment=aug, seed=1, pad_silence=0.8, features=False)
    zero = data.SpeechShards(str(tmp_path), augment=aug, seed=1, pad_silence=0.8, features=False, pad_none=0.0)
    always = data.SpeechShards(str(tmp_path), augment=aug, seed=1, pad_silence=0.8, features=False, pad_none=1.0)
    half = data.SpeechShards(str(tmp_path), augment=aug, seed=1, pad_silence=0.8, features=False, pad_none=0.5)
    starts = []
    for epoch in range(40):
        b, z, a = first_loud_sample(base, epoch), first_loud_sample(zero, epoch), first_loud_sample(always, epoch)
        assert z == b  # 0: the draws of the runs before, exactly
        assert a[0] < 80  # the utterance's own first samples: no silence before it
        starts.append(first_loud_sample(half, epoch)[0])
    assert max(b[0] for b in [first_loud_sample(base, e) for e in range(40)]) > 1600
    n_none = sum(s < 80 for s in starts)
    assert 8 <= n_none <= 32  # about half of 40 draws


def test_spec_augment_masks_bands_and_spans_with_the_mean_deterministically():
    torch = pytest.importorskip("torch")
    from spec_augment import spec_augment

    g = torch.Generator().manual_seed(0)
    B, T, F = 6, 120, 80
    feats = torch.randn(B, T, F, generator=g)
    lens = torch.tensor([120, 100, 57, 30, 10, 0])
    mean = torch.linspace(-3, 3, F)
    out, mask = spec_augment(feats, lens, mean, torch.Generator().manual_seed(7), p=1.0)
    # masked entries hold the bin's mean, the others are untouched
    assert torch.equal(out[mask], mean.expand(B, T, F)[mask])
    assert torch.equal(out[~mask], feats[~mask])
    assert mask.any()
    for b in range(B):
        # at most 2 bands of at most 10 bins (masks may overlap: at most 20 bins in all)
        bins = mask[b].all(0)
        assert int(bins.sum()) <= 20
        runs = int((bins[1:] & ~bins[:-1]).sum()) + int(bins[0])
        assert runs <= 2
        # time spans stay inside the utterance's frames (padding is masked only by bands)
        frames = mask[b].all(1)
        assert not frames[int(lens[b]):].any() or bool(bins.all())
        assert int(frames.sum()) <= 50 or bool(bins.all())
    # the same generator seed draws the same masks; another seed others; p = 0 changes nothing
    again, mask2 = spec_augment(feats, lens, mean, torch.Generator().manual_seed(7), p=1.0)
    assert torch.equal(mask, mask2) and torch.equal(out, again)
    _, other = spec_augment(feats, lens, mean, torch.Generator().manual_seed(8), p=1.0)
    assert not torch.equal(mask, other)
    same, none = spec_augment(feats, lens, mean, torch.Generator().manual_seed(7), p=0.0)
    assert torch.equal(same, feats) and not none.any()


# ---------------------------------------------------------------- lexicon

def test_make_lexicon_leaves_out_the_dev_range_adds_dictionary_words_and_is_deterministic(tmp_path):
    import gzip
    import lzma
    import subprocess
    train = tmp_path / 'train.tsv.xz'
    with lzma.open(train, 'wt', encoding='utf-8') as f:
        for i, s in enumerate(['the cat sat', 'the cat ran', 'a dev only sentence', 'the dog sat']):
            f.write(f'src{i}\t{s}\n')
    words = tmp_path / 'dict.txt'
    words.write_text("Cat\nzebra\nnaïve\nx-ray\nzebra's\n", encoding='utf-8')
    script = os.path.join(HERE, 'make_lexicon.py')

    def run(out, *extra):
        subprocess.run([sys.executable, script, str(train), str(out), '--sentences', '10',
                        '--exclude', '2:3', '--min-pair', '1', *extra], check=True, capture_output=True)
        counts = dict(line.split('\t') for line in out.read_text().splitlines())
        pairs = gzip.decompress((tmp_path / (out.stem + '.bigrams.tsv.gz')).read_bytes()).decode()
        return counts, pairs

    counts, pairs = run(tmp_path / 'a.tsv', '--dictionary', str(words), '--dictionary-count', '0.5')
    # the dev sentence's words are nowhere; a dictionary word already counted keeps its count;
    # words with characters outside a-z and the apostrophe are skipped
    assert 'dev' not in counts and 'only' not in counts
    assert counts == {'the': '3', 'cat': '2', 'sat': '2', 'ran': '1', 'dog': '1',
                      'zebra': '0.5', "zebra's": '0.5'}
    assert pairs.splitlines()[0] == '<s>\t*\t3'
    assert 'a\tdev' not in pairs and 'the\tcat\t2' in pairs
    # the same input gives the same bytes, whatever the output's name
    run(tmp_path / 'b.tsv', '--dictionary', str(words), '--dictionary-count', '0.5')
    assert (tmp_path / 'a.bigrams.tsv.gz').read_bytes() == (tmp_path / 'b.bigrams.tsv.gz').read_bytes()
    # word triples seen twice (the default), their history two words apart by a space
    triples = gzip.decompress((tmp_path / 'a.trigrams.tsv.gz').read_bytes()).decode()
    assert triples == '<s> the\tcat\t2\n'
    assert (tmp_path / 'a.trigrams.tsv.gz').read_bytes() == (tmp_path / 'b.trigrams.tsv.gz').read_bytes()
    run(tmp_path / 'c.tsv', '--min-triple', '1')
    triples = gzip.decompress((tmp_path / 'c.trigrams.tsv.gz').read_bytes()).decode().splitlines()
    assert sorted(triples) == ['<s> the\tcat\t2', '<s> the\tdog\t1', 'the cat\tran\t1', 'the cat\tsat\t1',
                       'the dog\tsat\t1']
    # a triple's history must be a kept pair
    bad = subprocess.run([sys.executable, script, str(train), str(tmp_path / 'd.tsv'), '--min-pair', '3',
                          '--min-triple', '2'], capture_output=True, text=True)
    assert bad.returncode != 0 and '--min-triple must be 0 or at least --min-pair' in bad.stderr
    # several ranges left out at once (both dev sets); a range that is not A < B is refused by name
    subprocess.run([sys.executable, script, str(train), str(tmp_path / 'e.tsv'), '--exclude', '0:1,2:3'],
                   check=True, capture_output=True)
    counts = dict(line.split('\t') for line in (tmp_path / 'e.tsv').read_text().splitlines())
    assert counts == {'the': '2', 'cat': '1', 'ran': '1', 'dog': '1', 'sat': '1'}
    for spec in ('3:2', '1-2', '0:1,x:4'):
        bad = subprocess.run([sys.executable, script, str(train), str(tmp_path / 'f.tsv'), '--exclude', spec],
                             capture_output=True, text=True)
        assert bad.returncode != 0 and f"--exclude: '{spec.split(',')[-1]}' is not a range" in bad.stderr


def test_average_models_averages_each_tensor_in_its_dtype_and_refuses_mismatched_models(tmp_path):
    torch = pytest.importorskip("torch")
    import average_models as am
    from rwkv7_lm import save_safetensors
    cfg = json.dumps({'enc_layers': 1})

    def model(name, scale, meta_extra=None, shape=(2, 3), dtype=torch.float16, names=('a.w', 'b.b')):
        d = tmp_path / name
        d.mkdir()
        tensors = {n: (torch.arange(int(np.prod(shape)), dtype=torch.float64).reshape(shape) * scale + i).to(dtype)
                   for i, n in enumerate(names)}
        save_safetensors(tensors, str(d / 'model.safetensors'),
                         {'config': cfg, 'step': str(int(scale * 100)), **(meta_extra or {})})
        return str(d / 'model.safetensors'), tensors

    pa, ta = model('ra', 1.0)
    pb, tb = model('rb', 3.0)
    meta, out = am.average([pa, pb], [1, 3])  # weights normalised: 0.25, 0.75
    for n in ta:
        assert out[n].dtype == torch.float16 and tuple(out[n].shape) == (2, 3)
        expected = 0.25 * ta[n].double() + 0.75 * tb[n].double()
        assert torch.equal(out[n], expected.to(torch.float16))
    assert meta['config'] == cfg and 'step' not in meta
    assert [(m['step'], m['weight']) for m in json.loads(meta['averaged_from'])] == [('100', 0.25), ('300', 0.75)]
    # written and read back: the same values and metadata
    save_safetensors(out, str(tmp_path / 'avg.safetensors'), meta)
    meta2, back = am.read_model(str(tmp_path / 'avg.safetensors'))
    assert meta2 == meta and all(torch.equal(back[n], out[n]) for n in out)

    pc, _ = model('rc', 1.0, {'config': json.dumps({'enc_layers': 2})})
    pd, _ = model('rd', 1.0, shape=(3, 2))
    pe, _ = model('re', 1.0, names=('a.w',))
    pf, _ = model('rf', 1.0, dtype=torch.float32)
    for other, words in [(pc, 'config'), (pd, 'a.w'), (pe, 'tensors differ'), (pf, 'float32')]:
        with pytest.raises(am.ModelMismatch, match=words) as e:
            am.average([pa, other], [1, 1])
        assert other in str(e.value)
    with pytest.raises(am.ModelMismatch, match='at least two'):
        am.average([pa], [1])
    with pytest.raises(am.ModelMismatch, match='weights'):
        am.average([pa, pb], [1, -1])
    (tmp_path / 'short.safetensors').write_bytes(b'\x10\x00')
    with pytest.raises(am.ModelMismatch, match='short.safetensors'):
        am.read_model(str(tmp_path / 'short.safetensors'))



def test_average_models_widens_one_frame_ctc_heads_to_average_with_a_wider_one(tmp_path):
    """--ctc-frames K: a one-frame CTC head becomes K copies of itself, then averages with a
    model trained with K frames (runs 15 and 16); without it the two do not match; a head of
    another width is refused by name."""
    torch = pytest.importorskip("torch")
    import average_models as am
    from rwkv7_lm import save_safetensors

    def model(name, frames, scale):
        d = tmp_path / name
        d.mkdir()
        t = {'ctc.weight': torch.full((29 * frames, 4), scale, dtype=torch.float16),
             'ctc.bias': torch.arange(29 * frames, dtype=torch.float16) * scale,
             'enc.w': torch.full((2, 2), scale, dtype=torch.float16)}
        save_safetensors(t, str(d / 'model.safetensors'), {'config': json.dumps({'enc_layers': 1, 'ctc_frames': frames})})
        return str(d / 'model.safetensors'), t

    one, t1 = model('one', 1, 1.0)
    two, t2 = model('two', 2, 3.0)
    three, _ = model('three', 3, 1.0)
    with pytest.raises(am.ModelMismatch, match='config'):
        am.average([one, two], [1, 1])
    meta, out = am.average([one, two], [1, 1], ctc_frames=2)
    assert json.loads(meta['config'])['ctc_frames'] == 2
    assert torch.equal(out['ctc.weight'], torch.full((58, 4), 2.0, dtype=torch.float16))
    expected_bias = 0.5 * t1['ctc.bias'].double().repeat(2) + 0.5 * t2['ctc.bias'].double()
    assert torch.equal(out['ctc.bias'], expected_bias.to(torch.float16))
    assert torch.equal(out['enc.w'], torch.full((2, 2), 2.0, dtype=torch.float16))
    with pytest.raises(am.ModelMismatch, match='3 frames a step') as e:
        am.average([three, two], [1, 1], ctc_frames=2)
    assert three in str(e.value)


def test_average_models_grown_averages_shared_tensors_and_takes_added_blocks_from_the_deeper_model(tmp_path):
    """--grown: a model grown by --grow-layers averages with the one it grew from: shared
    tensors by the weights, the added blocks from the deeper model alone; other config
    differences, or tensors the deeper model lacks, still raise."""
    torch = pytest.importorskip("torch")
    import average_models as am
    from rwkv7_lm import save_safetensors

    def model(name, cfg, names, scale):
        d = tmp_path / name
        d.mkdir()
        tensors = {n: torch.full((2, 2), scale + i, dtype=torch.float16) for i, n in enumerate(names)}
        save_safetensors(tensors, str(d / 'model.safetensors'), {'config': json.dumps(cfg), 'step': '1'})
        return str(d / 'model.safetensors')

    small = model('small', {'enc_layers': 1, 'enc_dim': 8}, ['b0.w', 'head'], 1.0)
    big = model('big', {'enc_layers': 2, 'enc_dim': 8}, ['b0.w', 'head', 'b1.w'], 3.0)
    with pytest.raises(am.ModelMismatch, match='config'):
        am.average([small, big], [1, 1])  # without --grown the depths must agree
    meta, out = am.average([small, big], [1, 1], grown=True)
    assert json.loads(meta['config'])['enc_layers'] == 2
    assert torch.equal(out['b0.w'], torch.full((2, 2), 2.0, dtype=torch.float16))   # (1 + 3) / 2
    assert torch.equal(out['head'], torch.full((2, 2), 3.0, dtype=torch.float16))   # (2 + 4) / 2
    assert torch.equal(out['b1.w'], torch.full((2, 2), 5.0, dtype=torch.float16))   # big's alone
    assert [m['file'] for m in json.loads(meta['averaged_from'])] == ['big/model.safetensors', 'small/model.safetensors']
    wide = model('wide', {'enc_layers': 2, 'enc_dim': 16}, ['b0.w', 'head', 'b1.w'], 3.0)
    with pytest.raises(am.ModelMismatch, match='more than enc_layers'):
        am.average([small, wide], [1, 1], grown=True)
    odd = model('odd', {'enc_layers': 1, 'enc_dim': 8}, ['b0.w', 'stray'], 1.0)
    with pytest.raises(am.ModelMismatch, match='stray'):
        am.average([odd, big], [1, 1], grown=True)
    with pytest.raises(am.ModelMismatch, match='weight 0'):
        am.average([small, big], [1, 0], grown=True)

@pytest.mark.parametrize("chunk,T", [(16, 37), (64, 150)])
def test_chunked_wkv7_matches_the_step_by_step_recurrence_in_values_and_gradients(chunk, T):
    """The speech encoder trains through rwkv7_lm.wkv7_chunked: its outputs, final state and
    gradients must be the recurrence's (float64, T not a multiple of the chunk, a start state),
    at the default chunk and at the longest --wkv-chunk (64: decays near the bound on |log w|
    make exp(-cumsum) reach about 1e17 inside a chunk)."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from rwkv7_lm import wkv7_chunked, wkv7_sequential

    g = torch.Generator().manual_seed(7)
    B, H, N = 2, 2, 8
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    r, k, v = rnd(B, T, H, N), rnd(B, T, H, N), rnd(B, T, H, N)
    logw = -0.6 * torch.rand(B, T, H, N, generator=g, dtype=torch.float64)  # w in (0.55, 1]
    if chunk == 64:
        logw[:, :, 0] = -0.6  # one channel at the strongest decay, every step
    kk = torch.nn.functional.normalize(rnd(B, T, H, N), dim=-1)
    a_rate = torch.rand(B, T, H, N, generator=g, dtype=torch.float64)
    s0 = 0.1 * rnd(B, H, N, N)
    ins = [x.clone().requires_grad_(True) for x in (r, logw, k, v, -kk, kk * a_rate, s0)]
    ref = [x.clone().requires_grad_(True) for x in (r, logw, k, v, -kk, kk * a_rate, s0)]
    out, S = wkv7_chunked(*ins[:6], state=ins[6], chunk=chunk)
    out_r, S_r = wkv7_sequential(*ref[:6], state=ref[6])
    assert torch.allclose(out.double(), out_r, atol=1e-4, rtol=1e-4)  # chunked runs in float32
    assert torch.allclose(S.double(), S_r, atol=1e-4, rtol=1e-4)
    wo, ws = rnd(B, T, H, N), rnd(B, H, N, N)
    ((out.double() * wo).sum() + (S.double() * ws).sum()).backward()
    ((out_r * wo).sum() + (S_r * ws).sum()).backward()
    for x, y in zip(ins, ref):
        assert torch.allclose(x.grad, y.grad, atol=2e-3, rtol=2e-3), float((x.grad - y.grad).abs().max())


def _perturbed_speech_model(torch):
    """A small speech model whose blocks all matter: the official init has zero output
    projections, so every weight is nudged."""
    from rwkv_speech_model import SpeechConfig, SpeechModel

    torch.manual_seed(0)
    model = SpeechModel(SpeechConfig(enc_layers=2, enc_dim=128, enc_ffn=128, pred_dim=64))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _losses_and_gradients(torch, model, steps, last_steps, labels, last_labels):
    """CTC and transducer losses of two random utterances (`steps` and `last_steps` encoder
    steps; `labels` and `last_labels` symbols) and every parameter's gradient, flattened."""
    feats = torch.randn(2, 4 * steps, 80, generator=torch.Generator().manual_seed(1))
    targets = torch.randint(1, 29, (2, labels), generator=torch.Generator().manual_seed(2))
    model.zero_grad()
    ctc, rnnt, _ = model.losses(feats, torch.tensor([4 * steps, 4 * last_steps]), targets,
                                torch.tensor([labels, last_labels]))
    (ctc + rnnt).backward()
    return [float(ctc), float(rnnt)], torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_the_wkv_chunk_changes_the_cost_not_the_model(monkeypatch):
    """--wkv-chunk: a speech model's losses and gradients are the same (float32 rounding) with
    chunks of 16 and 64, and the chunk set is the one the encoder and the prediction network
    scan with; chunk lengths outside 1..64 raise, naming the value."""
    torch = pytest.importorskip("torch")
    import rwkv_speech_model  # noqa: F401  (puts training/ on the path for rwkv7_lm)
    import rwkv7_lm

    seen = []
    scan = rwkv7_lm.wkv7_chunked
    monkeypatch.setattr(rwkv7_lm, 'wkv7_chunked', lambda *a, chunk, **k: seen.append(chunk) or scan(*a, chunk=chunk, **k))

    model = _perturbed_speech_model(torch)
    results = []
    for chunk in (16, 64):
        model.set_wkv_chunk(chunk)
        results.append(_losses_and_gradients(torch, model, 90, 70, 12, 9))
    assert seen == [16] * 3 + [64] * 3  # two encoder blocks and one predictor block per pass
    (l16, g16), (l64, g64) = results
    assert l16 == pytest.approx(l64, rel=1e-4)
    assert torch.allclose(g16, g64, atol=1e-4, rtol=1e-3), float((g16 - g64).abs().max())
    for bad in (0, 65, 2.5):
        with pytest.raises(ValueError, match=repr(bad)):
            model.set_wkv_chunk(bad)


def test_the_fused_wkv_kernel_trains_the_same_model(monkeypatch):
    """--wkv-kernel fused: every block of the encoder and the prediction network evaluates its
    WKV-7 with the fused kernels (here on the host, under emulation), and the losses and
    gradients are those of the chunked form; other names raise."""
    torch = pytest.importorskip("torch")
    if shutil.which('g++') is None:
        pytest.skip('the fused kernels run on the host only through g++')
    import rwkv_speech_model  # noqa: F401  (puts training/ on the path for wkv7_cuda)
    import wkv7_cuda

    calls = []
    fused = wkv7_cuda.wkv7_fused
    monkeypatch.setattr(wkv7_cuda, 'wkv7_fused', lambda *a, **k: calls.append(a[0].shape) or fused(*a, **k))
    model = _perturbed_speech_model(torch)
    results = []
    for kernel in ('chunked', 'fused'):
        model.set_wkv_kernel(kernel)
        results.append(_losses_and_gradients(torch, model, 30, 22, 8, 6))
    assert [tuple(s) for s in calls] == [(2, 30, 2, 64)] * 2 + [(2, 9, 1, 64)]
    (lc, gc), (lf, gf) = results
    assert lc == pytest.approx(lf, rel=1e-5)
    # two float32 evaluations of one function (chunks of 16 and 64 differ as much: above)
    assert torch.allclose(gc, gf, atol=1e-4, rtol=1e-3), float((gc - gf).abs().max())
    with pytest.raises(ValueError, match="'cuda'"):
        model.set_wkv_kernel('cuda')


def test_a_grown_model_computes_what_it_grew_from_then_trains_its_new_blocks(tmp_path):
    """--grow-layers: extra encoder blocks after the trained ones leave every head's output as
    it was (fresh blocks have zero output projections), and the new blocks receive gradients."""
    torch = pytest.importorskip("torch")
    from rwkv_speech_model import SpeechConfig, SpeechModel

    torch.manual_seed(0)
    m = SpeechModel(SpeechConfig(enc_layers=2, enc_dim=64, pred_dim=64, head_size=32, joiner_dim=32))
    with torch.no_grad():
        for p in m.parameters():  # a "trained" model: no zero projections anywhere
            p.add_(0.05 * torch.randn_like(p))
    g = m.grown(3)
    assert g.c.enc_layers == 5 and len(g.encoder.blocks) == 5
    feats = torch.randn(2, 32, 80)
    with torch.no_grad():
        (e0, s0), (e1, s1) = m.encoder(feats), g.encoder(feats)
        assert torch.equal(e0, e1)
        assert torch.equal(m.ctc(e0), g.ctc(e1)) and torch.equal(m.vad(e0), g.vad(e1))
    with pytest.raises(ValueError):
        m.grown(0)
    # the new blocks learn: their output projections get gradients at once
    ctc, rnnt, vad = g.losses(feats, torch.tensor([32, 28]), torch.tensor([[3, 4, 5], [6, 7, 0]]),
                              torch.tensor([3, 2]), (torch.rand(2, 32) > 0.5).float())
    (ctc + rnnt + vad).backward()
    assert all(float(b.att.output.weight.grad.abs().sum()) > 0 for b in g.encoder.blocks[2:])
    # and it exports and loads back as a 5-block model
    g.export(str(tmp_path / "g.safetensors"))
    back = SpeechModel.from_exported(str(tmp_path / "g.safetensors"))
    assert back.c.enc_layers == 5


def test_a_widened_ctc_head_reads_as_before_then_trains_on_its_finer_frames(tmp_path):
    """--ctc-frames 2: each step's two CTC frames start as copies of the one-frame head (the same
    log-probabilities, so the same greedy text), the CTC loss runs over twice the frames, and the
    wider head exports and loads back with its frame count; widening twice is an error."""
    torch = pytest.importorskip("torch")
    import train_asr
    from rwkv_speech_model import SpeechConfig, SpeechModel

    torch.manual_seed(0)
    m = SpeechModel(SpeechConfig(enc_layers=2, enc_dim=64, pred_dim=64, head_size=32, joiner_dim=32))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    w = m.with_ctc_frames(2)
    assert w.c.ctc_frames == 2 and tuple(w.ctc.weight.shape) == (2 * m.c.vocab, 64)
    feats = torch.randn(2, 32, 80)
    with torch.no_grad():
        enc, _ = m.encoder(feats)
        one, two = m.ctc_log_probs(enc), w.ctc_log_probs(enc)
    assert tuple(one.shape) == (2, 8, m.c.vocab) and tuple(two.shape) == (2, 16, m.c.vocab)
    assert torch.allclose(two[:, 0::2], one, atol=1e-6) and torch.allclose(two[:, 1::2], one, atol=1e-6)
    lens = torch.tensor([8, 7])
    assert train_asr.ctc_greedy(two, w.ctc_lengths(lens)) == train_asr.ctc_greedy(one, m.ctc_lengths(lens))
    # 8 symbols with a doubled letter in 8 steps: one frame a step cannot align them (9 frames
    # needed: the loss is infinite, zeroed), two frames a step can
    targets = torch.tensor([[3, 4, 4, 5, 6, 7, 8, 9]])
    ctc1, _, _ = m.losses(feats[:1], torch.tensor([32]), targets, torch.tensor([8]))
    ctc2, rnnt, _ = w.losses(feats[:1], torch.tensor([32]), targets, torch.tensor([8]))
    assert float(ctc1.detach()) == 0 and float(ctc2.detach()) > 0 and torch.isfinite(ctc2) and torch.isfinite(rnnt)
    (ctc2 + rnnt).backward()
    assert float(w.ctc.weight.grad.abs().sum()) > 0
    w.export(str(tmp_path / "w.safetensors"))
    back = SpeechModel.from_exported(str(tmp_path / "w.safetensors"))
    assert back.c.ctc_frames == 2 and torch.equal(back.ctc.weight, w.ctc.weight)
    with pytest.raises(ValueError, match="already has 2 frames"):
        w.with_ctc_frames(3)
    with pytest.raises(ValueError, match="positive integer"):
        m.with_ctc_frames(0)


def test_a_bent_formant_shift_moves_each_region_by_its_own_factor():
    """Knots (hz, factor): the envelope moves by a factor per frequency; all-1 knots give x
    back, a single flat factor as knots matches the scalar shift, bad knots are an error."""
    x = harmonic_vowel(125, 800)
    assert np.array_equal(data.formant_shift(x, [(500, 1.0), (3000, 1.0)]), x)
    flat = data.formant_shift(x, [(500, 1.15), (4000, 1.15)])
    assert np.max(np.abs(flat - data.formant_shift(x, 1.15))) < 1e-6
    # low region up by 1.2, high region left: a 1000 Hz resonance moves as the scalar 1.2 moves it
    v = harmonic_vowel(125, 1000)
    y = data.formant_shift(v, [(500, 1.2), (1500, 1.2), (2500, 1.0)])
    assert len(y) == len(v) and y.dtype == np.float32
    assert abs(envelope_peak_hz(y) / envelope_peak_hz(data.formant_shift(v, 1.2)) - 1) < 0.03
    assert envelope_peak_hz(y) > 1100
    # the same knots leave a resonance above 2500 Hz where it was
    z = harmonic_vowel(125, 3200)
    assert abs(envelope_peak_hz(data.formant_shift(z, [(500, 1.2), (1500, 1.2), (2500, 1.0)])) / 3200 - 1) < 0.05
    with pytest.raises(ValueError):
        data.formant_shift(x, [(1500, 1.1), (500, 1.0)])


def test_augmenter_bends_a_share_of_formant_shifts_and_p_bend_0_keeps_the_old_draws():
    x = harmonic_vowel(110, 800, 1.2)
    base = dict(p_speed=1, p_reverb=1, p_noise=1, p_babble=0, p_formant=1.0)
    old = data.Augmenter(**base)(x, np.random.default_rng([5, 0, 1]), engine="flite")
    off = data.Augmenter(**base, p_bend=0.0)(x, np.random.default_rng([5, 0, 1]), engine="flite")
    assert np.array_equal(old[0], off[0]) and old[1] == off[1]
    y, info = data.Augmenter(**base, p_bend=1.0)(x, np.random.default_rng([5, 0, 1]), engine="flite")
    assert "formant" not in info and len(info["formant_bend"]) == 4
    assert all(0.8 <= f <= 1.2 for f in info["formant_bend"]) and np.max(np.abs(y)) <= 1.0


def test_voice_study_shard_reads_back_per_configuration(tmp_path, monkeypatch):
    import voice_study
    texts = ["one two", "three four five"]
    rng = np.random.default_rng(0)
    fake = {"a": [rng.integers(-999, 999, 1600 + 10 * k).astype(np.int16) for k in range(2)],
            "b": [rng.integers(-999, 999, 3200 + 10 * k).astype(np.int16) for k in range(2)]}
    monkeypatch.setattr(voice_study, "render_all", lambda c, t, cache, skip=0: fake[c["voice"]])
    configs = [voice_study.parse("flite:a"), voice_study.parse("espeak:b,rate=150")]
    assert voice_study.write_study_shard(str(tmp_path), configs, texts, str(tmp_path)) == 0
    ix = data.ShardIndex(str(tmp_path / "test-voices"))
    meta = json.load(open(tmp_path / "test-voices" / "shard-00000.json"))
    assert [u["variant"] for u in meta["utts"]] == ["flite:a", "flite:a", "espeak:b,rate=150", "espeak:b,rate=150"]
    assert [u["text"] for u in meta["utts"]] == texts * 2
    for i, x in enumerate(fake["a"] + fake["b"]):
        assert np.array_equal(np.round(ix.waveform(i) * 32768).astype(np.int16), x)
