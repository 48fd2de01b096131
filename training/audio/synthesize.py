#!/usr/bin/env python3
"""Render sentences to 16 kHz mono speech with espeak-ng, flite and festival, in parallel, into shards.

Runs wherever the packages of fetch-debs.sh are unpacked (unpack-debs.sh): on the GPU machine
(16 cores) for training data, or on a developer's machine (Debian 12) for the held-out sets.
Needs numpy and scipy (resampling); no torch.

  eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)"
  python3 training/audio/synthesize.py --text .gpu/speech/text --out /tmp/speech \
      --split train --utts 2000 --workers 16
  python3 training/audio/synthesize.py --text .gpu/speech/text --out /tmp/speech --split test

Voices (VOICES below; espeak-ng's variants are read from its data folder, `voices/!v`):
  espeak-ng: 8 English voices (accents) x (no variant + every variant); the variants in
             HELDOUT_ESPEAK_VARIANTS are never used for training, with any accent;
  flite:     kal, kal16, awb, rms, slt (awb_time, a talking-clock voice, is left out);
             the voices in HELDOUT_FLITE are never used for training;
  festival:  ked_diphone, cmu_us_slt_arctic_hts (training only; FESTIVAL_VOICES);
             one festival process renders a shard's festival utterances (render_festival);
  gnuspeech: presets male, female, large_child, each utterance a vocal tract drawn around its
             preset (training only, with --gnuspeech P; GNUSPEECH_VOICES, gnuspeech_voice):
             an articulatory synthesizer run as WebAssembly by node (gnuspeech-render.mjs,
             GNUSPEECH_MODULES: the node_modules folder of @echogarden/gnuspeech-wasm), one node
             process a shard (render_gnuspeech).
  rhvoice:   bdl (US male), alan (Scottish male), slt (US female): RHVoice's statistical
             parametric voices, trained on CMU ARCTIC speakers (training only, with --rhvoice P;
             RHVOICE_VOICES); clb (US female) only in a dev set (RHVOICE_DEV_VOICES). Driven in
             each worker through its C API (rhvoice_render.py; RHVOICE_DATA, RHVOICE_LIB and
             RHVOICE_CONF from fetch-rhvoice.sh and stage-rhvoice.sh). Its CC BY-NC-ND voices
             (evgeniy-eng, lyubov) are not used.
  mbrola:    us1 (US female), us2 and us3 (US male), en1 (British male): diphone databases of
             four more human speakers, spoken by espeak-ng's mb-* voices through the MBROLA
             program (training only, with --mbrola P; MBROLA_VOICES). MBROLA_DIR (fetch-mbrola.sh:
             bin/mbrola and voices/) is linked into espeak-ng's data folder (prepare_mbrola).
  pico:      en-US (US female), en-GB (British female): SVOX Pico's HMM-based statistical
             parametric voices (Android's TTS engine; training only, with --pico P;
             PICO_PROSODY). Driven in each worker through its C API (pico_render.py;
             PICO_LANG and PICO_LIB from fetch-pico.sh).
Prosody per utterance (seeded): espeak-ng rate 120..200 wpm (-s), pitch 25..75 (-p), word gap
0..2 x 10 ms (-g, 1 in 4 utterances); flite duration_stretch 0.9..1.35 and int_f0_target_mean
drawn from a per-voice range (rms ignores that parameter: its pitch is fixed); festival
Duration_Stretch (diphone) or hts_engine speed 1/stretch (HTS), stretch 0.9..1.25, and a target
median F0 per voice (diphone: the intonation model's target mean; HTS: a copy of the voice's
model with its log-F0 means shifted, hts_voice_with_f0). The train split only (TRAIN_F0,
TRAIN_HTS_ALPHA): flite slt and the HTS voice down to male F0 (95 Hz), and the HTS voice's
mel-cepstral all-pass constant drawn per utterance (0.38..0.53, its own 0.45: the same model
copy, its spectral envelope warped), so that it speaks as many vocal tracts.

Splits (the sentence lists come from prepare-text.sh; test sentences never occur in train):
  train           train sentences, train voices; utterance i renders sentence i (the list is
                  already shuffled; it wraps around for more utterances than sentences);
                  engine drawn per utterance: festival 20%, flite 30%, espeak-ng 50% (P_TRAIN;
                  until 2026-12-04 flite 40%, espeak-ng 60%, so the train split's draws changed
                  then: the same seed no longer gives the same training utterances as before);
                  with --gnuspeech P, a share P goes to gnuspeech first and the rest as
                  before (P 0, the default, leaves the split as it was, bit for bit); with
                  --rhvoice P, a share P of what is left after that goes to rhvoice, then
                  with --mbrola P a share P of what is left after both to mbrola, then with
                  --pico P a share P of what is left after all three to pico (same rule)
  test-voices     test sentences x held-out voices: --test-per-voice sentences for each
                  held-out espeak variant (with a random accent) and each held-out flite voice
  test-sentences  test sentences x train voices (every test sentence once, random train voice
                  of espeak-ng and flite: P_FLITE, the draw it was rendered with before festival,
                  so the held-out sets stay the same bit for bit)
Everything is a pure function of (--seed, split, utterance index), so a shard can be rebuilt
anywhere and is identical (espeak-ng, flite and festival are deterministic; an utterance
festival fails on is rendered by espeak-ng en-us instead, also deterministic). Not so
gnuspeech's utterances (--gnuspeech): it draws its voice source's noise from an unseeded
generator, so they come out with the same timing and other samples each time (training only).

Shard format (in --out/<split>/): shard-NNNNN.npy, int16 samples of all its utterances end to
end; shard-NNNNN.json, {"sample_rate": 16000, "utts": [{"id", "text", "source", "engine",
"voice", "variant", "rate", "pitch", "offset", "length", "duration"}...]}. The JSON is written
last, so a shard with a JSON file is complete; existing complete shards are skipped (resume).
"""
import argparse
import json
import lzma
import multiprocessing as mp
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time

import numpy as np
from scipy.signal import resample_poly

SR = 16000
ESPEAK_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                 "en-gb-x-rp", "en-029", "en-us-nyc"]
HELDOUT_ESPEAK_VARIANTS = ["f2", "m4", "klatt3"]
FLITE_VOICES = {  # voice -> range of int_f0_target_mean in Hz (None: voice ignores it)
    "kal": (75, 130), "kal16": (75, 130), "awb": (95, 160), "rms": None, "slt": (135, 215),
}
HELDOUT_FLITE = ["rms"]
P_FLITE = 0.4  # test-sentences: share of flite among its train voices (the draw it was rendered with)
# festival (training only, since 2026-12-04): voice -> range of the target median F0 in Hz. The
# diphone voices: the intonation model's target mean (int_lr_params; their default is 105 Hz,
# measured 104). The HTS voice: festival 2.5 passes only "-m" (model) and "-r" (speed) to its
# hts_engine, so its pitch is moved by a copy of the model whose log-F0 means are shifted
# (hts_voice_with_f0; measured default 172 Hz, the model's voiced log-F0 means give 172.7)
# (kal_diphone, festvox-kallpc16k, F0 85..135, is left out: flite's kal and kal16 are the same
# speaker and recordings; see fetch-debs.sh)
FESTIVAL_VOICES = {"ked_diphone": (85, 140), "cmu_us_slt_arctic_hts": (140, 210)}
HTS_VOICES = {  # HTS voice -> (its model under FESTIVAL_LIBDIR, its default median F0 in Hz)
    "cmu_us_slt_arctic_hts": ("voices/us/cmu_us_slt_arctic_hts/hts/cmu_us_slt_arctic_hts.htsvoice", 172.7)}
# train split: festival 20% (2 voices), flite 30% (4 voices), espeak-ng 50% (792 voice/variant pairs)
P_TRAIN = {"festival": 0.2, "flite": 0.3}
# train split only (README, "Toward the held-out flite voice (2026-12-04 study)"): the female
# voices' F0 down to male pitches (flite slt measured 96 Hz at a target of 95), and the HTS voice's
# all-pass constant (the frequency warp of its mel-cepstrum: ALPHA in the model's header, 0.45
# its own) drawn per utterance, which moves its vocal tract inside the vocoder while F0 stays
# (0.38: formants about 1.18x higher at low frequencies, 0.53: about 0.81x). The held-out sets
# keep FLITE_VOICES (test-sentences' flite prosody), so they render as before.
TRAIN_F0 = {"slt": (95, 215), "cmu_us_slt_arctic_hts": (95, 210)}
# gnuspeech (training only, with --gnuspeech): its voice presets -> (vocal-tract length in cm,
# reference glottal pitch in semitones), as in its data folder's voice_<preset>.txt. Each
# utterance draws a vocal tract around its preset (gnuspeech_voice): the length within 10%, the
# pitch within 3 semitones, the breathiness, and each of the tract's 8 section radii within 12%
# (formants that move apart, as bent formant shifts do), so that every utterance is another
# articulatory speaker; tempo 0.8-1.25
GNUSPEECH_VOICES = {"male": (17.5, -12.0), "female": (15.0, 0.0), "large_child": (12.5, 2.5)}
GNUSPEECH_TEMPO = (0.8, 1.25)
TRAIN_HTS_ALPHA = {"cmu_us_slt_arctic_hts": (0.38, 0.53)}
# rhvoice (training only, with --rhvoice): voice -> range of its relative pitch (a factor on the
# voice's own F0 contour; the female voice down to male pitches, as TRAIN_F0 does for slt);
# relative rate RHVOICE_RATE for all. bdl is an ARCTIC speaker no other engine has (alan is
# awb's speaker, slt flite's and festival's). RHVOICE_DEV_VOICES: never in training nor in the
# held-out sets, a dev voice (render_dev_voice.py): clb, another ARCTIC speaker no engine has,
# so that a run can be judged on an unseen voice before the held-out sets are read.
RHVOICE_VOICES = {"bdl": (0.8, 1.25), "alan": (0.8, 1.25), "slt": (0.6, 1.15)}
RHVOICE_DEV_VOICES = {"clb": (0.85, 1.15)}
RHVOICE_RATE = (0.8, 1.3)
# mbrola (training only, with --mbrola): the MBROLA diphone databases espeak-ng speaks with (its
# voices mb-<name>), each another human speaker none of the other engines has; espeak-ng's
# prosody ranges (rate in words a minute, pitch 0..99 on its scale) for all four. The shipped
# model read them at 60-76% WER transducer greedy, 56-65% with beam 4 and the lexicon (60 test
# sentences each, 2026-12-06: further from its training voices than the held-out flite rms, 35%
# and 25%).
MBROLA_VOICES = ["us1", "us2", "us3", "en1"]
# pico (training only, with --pico): SVOX Pico's two English speakers (pico_render.PICO_VOICES),
# statistical parametric like flite's clustergen voices (rms, the held-out voice furthest from
# the training voices, is one) and RHVoice's. voice -> range of its pitch factor; the speed
# factor PICO_SPEED for both. The weights shipped before the eighteenth run read them as no
# training voice reads (2026-12-07, one sentence each at speed 1 and 1.3: "the quick branches
# jump severs a lacy toke ...").
PICO_PROSODY = {"en-US": (0.75, 1.2), "en-GB": (0.75, 1.2)}
PICO_SPEED = (0.8, 1.3)


def espeak_variants(data_dir):
    """Sorted espeak-ng variant names found in <data_dir>/espeak-ng-data/voices/!v."""
    d = os.path.join(data_dir, "espeak-ng-data", "voices", "!v")
    return sorted(os.listdir(d))


def voice_sets(data_dir):
    """(train voices, held-out voices): lists of (engine, voice, variant)."""
    variants = espeak_variants(data_dir)
    for v in HELDOUT_ESPEAK_VARIANTS:
        if v not in variants:
            raise SystemExit(f"held-out espeak variant {v!r} not in {data_dir}")
    train = {"espeak": [(a, v) for a in ESPEAK_VOICES
                        for v in [""] + [x for x in variants if x not in HELDOUT_ESPEAK_VARIANTS]],
             "flite": [(v, "") for v in FLITE_VOICES if v not in HELDOUT_FLITE],
             "festival": [(v, "") for v in FESTIVAL_VOICES],
             "gnuspeech": [(v, "") for v in GNUSPEECH_VOICES],
             "rhvoice": [(v, "") for v in RHVOICE_VOICES],
             "mbrola": [(v, "") for v in MBROLA_VOICES],
             "pico": [(v, "") for v in PICO_PROSODY]}
    held = [("espeak", "*", v) for v in HELDOUT_ESPEAK_VARIANTS] + \
           [("flite", v, "") for v in HELDOUT_FLITE]
    return train, held


def parse_wav(data):
    """(int16 samples, sample rate) of a PCM16 mono WAV; tolerates espeak's streaming sizes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV")
    pos, sr, ch = 12, None, 1
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt, ch, sr = struct.unpack("<HHI", data[pos + 8:pos + 16])
            bits = struct.unpack("<H", data[pos + 22:pos + 24])[0]
            if fmt != 1 or bits != 16:
                raise ValueError(f"WAV format {fmt}/{bits} bits, want PCM 16")
        elif cid == b"data":
            body = data[pos + 8:]
            if size < len(body):
                body = body[:size]
            x = np.frombuffer(body[:len(body) // 2 * 2], dtype="<i2")
            if ch > 1:
                x = x[: len(x) // ch * ch].reshape(-1, ch).mean(axis=1).astype(np.int16)
            return x, sr
        pos += 8 + size + (size & 1)
    raise ValueError("WAV without data chunk")


def to_16k(x, sr):
    """int16 at sr -> int16 at 16 kHz (polyphase, anti-aliased)."""
    if sr == SR:
        return x
    g = np.gcd(SR, sr)
    y = resample_poly(x.astype(np.float32), SR // g, sr // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def tool(name):
    path = os.environ.get(f"{name.upper().replace('-', '_')}_BIN") or shutil.which(name)
    if not path:
        raise SystemExit(f"{name} not found: run unpack-debs.sh and eval its output")
    return path


def scheme_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hts_voice_with_f0(src, dst, factor, alpha=None):
    """Copy an hts_engine voice file (HTS_VOICE_VERSION 1.0) with every log-F0 static mean
    raised by log(factor): the whole F0 contour times factor, durations and spectrum as they
    were (what hts_engine's own half-tone option does, which festival does not pass on).
    alpha: the all-pass constant of the mel-cepstrum (OPTION[MCP]:ALPHA=) set to this value
    (what hts_engine's -a would do): the spectral envelope warped, F0 and durations kept."""
    with open(src, "rb") as f:
        b = bytearray(f.read())
    k = b.index(b"[DATA]\n") + len(b"[DATA]\n")
    head = b[:k].decode("ascii")
    s, e = map(int, re.search(r"STREAM_PDF\[LF0\]:(\d+)-(\d+)", head).groups())
    states = int(re.search(r"NUM_STATES:(\d+)", head).group(1))
    dim = int(re.search(r"VECTOR_LENGTH\[LF0\]:(\d+)", head).group(1)) * \
        int(re.search(r"NUM_WINDOWS\[LF0\]:(\d+)", head).group(1))
    # the LF0 pdfs: a pdf count per state (uint32), then per pdf dim means, dim variances and
    # the voiced weight (MSD), float32; the static mean of log F0 is a pdf's first value
    a, z = k + s + 4 * states, k + e + 1
    pdfs = np.frombuffer(bytes(b[a:z]), "<f4").reshape(-1, 2 * dim + 1).copy()
    if len(pdfs) != int(np.frombuffer(bytes(b[k + s:a]), "<u4").sum()):
        raise ValueError(f"{src}: unexpected LF0 pdf layout")
    pdfs[:, 0] += np.float32(np.log(factor))
    b[a:z] = pdfs.astype("<f4").tobytes()
    if alpha is not None:  # data positions count from [DATA], so the header may change length
        head, n = re.subn(r"(OPTION\[MCP\]:ALPHA=)[0-9.]+", rf"\g<1>{alpha:g}", head)
        if n != 1:
            raise ValueError(f"{src}: no OPTION[MCP]:ALPHA= in the header")
        b = head.encode("ascii") + b[k:]
    with open(dst, "wb") as f:
        f.write(b)


def hts_model_key(job):
    """(voice, pitch, alpha) of an HTS job that needs its own model file, else None."""
    if job["voice"] in HTS_VOICES and (job["pitch"] or job.get("alpha")):
        return job["voice"], job["pitch"], job.get("alpha")
    return None


def festival_script(jobs, lib, paths, models=None):
    """The festival script that renders jobs into paths; models: HTS voice file per
    hts_model_key of jobs that move the HTS voice's F0 or warp (hts_voice_with_f0)."""
    lines = [f"(set! libdir {scheme_string(lib)})", f"(set! datadir {scheme_string(lib)})",
             f"(set! lexdir {scheme_string(os.path.join(lib, 'dicts/'))})",
             '(load (path-append libdir "init.scm"))']
    for j, path in zip(jobs, paths):
        lines.append(f"(voice_{j['voice']})")  # resets the voice's own parameters
        if j["voice"] in HTS_VOICES:  # HTS: its engine's speed (1 / stretch) and model
            params = f'(list "-r" {1 / j["rate"]:.4f})'
            key = hts_model_key(j)
            if key:
                # hts_engine keeps the model loaded while current-voice keeps its name: a name
                # per F0 (and warp) makes it load the shifted copy (about 20 ms)
                params += f' (list "-m" {scheme_string(models[key])})'
                name = f"{j['voice']}_f0_{j['pitch']}" + (f"_a{j['alpha']:g}" if key[2] else "")
                lines.append(f"(set! current-voice '{name})")
            lines.append(f"(set! hts_engine_params (append (list {params}) hts_engine_params))")
        else:
            lines.append(f"(Parameter.set 'Duration_Stretch {j['rate']})")
            lines.append(f"(set! int_lr_params '((target_f0_mean {j['pitch']}) (target_f0_std {max(10, j['pitch'] // 7)}) "
                         "(model_f0_mean 170) (model_f0_std 34)))")
        # an utterance festival cannot say is skipped (its file is missing), not the batch
        lines.append(f"(unwind-protect (utt.save.wave (utt.synth (Utterance Text {scheme_string(j['text'])})) "
                     f"{scheme_string(path)} 'riff) nil)")
    return "\n".join(lines) + "\n"


def render_festival(jobs, bins, tmp_dir):
    """Synthesize festival jobs in one festival process (its start and voice loading take
    0.5-0.9 s, longer than an utterance); returns int16 samples at 16 kHz per job, None
    for an utterance festival could not say. A crash (festival segfaults on some inputs,
    an empty text for one) or a hang loses that utterance only: the rest run in a new process."""
    paths = [os.path.join(tmp_dir, f"f{k}.wav") for k in range(len(jobs))]
    models = {}  # hts_model_key -> its model with the F0 moved (and warped), written once per call
    for j in jobs:
        key = hts_model_key(j)
        if key and key not in models:
            rel, f0 = HTS_VOICES[j["voice"]]
            tail = f"-a{key[2]:g}" if key[2] else ""
            models[key] = dst = os.path.join(tmp_dir, f"{j['voice']}-f0-{j['pitch']}{tail}.htsvoice")
            hts_voice_with_f0(os.path.join(bins["festival-lib"], rel), dst,
                              j["pitch"] / f0 if j["pitch"] else 1.0, key[2])
    out = [None] * len(jobs)
    start = 0
    while start < len(jobs):
        script = os.path.join(tmp_dir, "render.scm")
        with open(script, "w", encoding="utf-8") as f:
            f.write(festival_script(jobs[start:], bins["festival-lib"], paths[start:], models))
        try:
            r = subprocess.run([bins["festival"], "--batch", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, check=False,
                               timeout=60 + 10 * (len(jobs) - start))
            code, log = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            code, log = "timeout", (e.stdout or b"") + (e.stderr or b"")
        done = start
        for k in range(start, len(jobs)):
            if not os.path.exists(paths[k]):
                continue
            with open(paths[k], "rb") as f:
                x, sr = parse_wav(f.read())
            os.remove(paths[k])
            out[k] = to_16k(x, sr)
            done = k + 1
        if code == 0:
            break
        if done == start and start == 0 and code not in (-11, "timeout"):
            raise RuntimeError(f"festival failed ({code}): {log.decode(errors='replace')[-300:]}")
        start = done + 1  # the utterance after the last one written crashed it
    for path in models.values():
        os.remove(path)
    return out


def render_gnuspeech(jobs, bins, tmp_dir):
    """Synthesize gnuspeech jobs in one node process (loading the WebAssembly module takes
    about 0.5 s, an utterance 0.1 s); returns int16 samples at 16 kHz per job, None for an
    utterance it could not say (the caller renders that one with espeak-ng instead)."""
    paths = [os.path.join(tmp_dir, f"g{k}.wav") for k in range(len(jobs))]
    spec = os.path.join(tmp_dir, "jobs.json")
    with open(spec, "w", encoding="utf-8") as f:
        json.dump([{"text": j["text"], "voice": j["voice"], "tempo": j["rate"], "path": p,
                    "params": j.get("params", {})} for j, p in zip(jobs, paths)], f)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gnuspeech-render.mjs")
    try:
        r = subprocess.run([bins["node"], script, spec], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False, timeout=60 + 5 * len(jobs),
                           env={**os.environ, "GNUSPEECH_MODULES": bins["gnuspeech"]})
        code, log = r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        code, log = "timeout", e.stderr or b""
    out = [None] * len(jobs)
    for k, path in enumerate(paths):
        if os.path.exists(path):
            with open(path, "rb") as f:
                x, sr = parse_wav(f.read())
            os.remove(path)
            out[k] = to_16k(x, sr)
    if code != 0 and all(x is None for x in out) and code != "timeout":
        raise RuntimeError(f"gnuspeech failed ({code}): {log.decode(errors='replace')[-300:]}")
    return out


def espeak_fallback(job):
    """The job an utterance festival could not say becomes (deterministic: en-us, no variant)."""
    rng = random.Random(f"fallback:{job['id']}")
    return {**{k: v for k, v in job.items() if k not in ("rate", "pitch", "gap", "alpha")},
            "engine": "espeak", "voice": "en-us", "variant": "", **prosody(rng, "espeak", "en-us")}


def prepare_mbrola(mbrola_dir, espeak_data):
    """Makes espeak-ng's mb-* voices speak from MBROLA_DIR (fetch-mbrola.sh: bin/mbrola and
    voices/<name>): links each database where espeak-ng looks for it
    (<espeak_data>/espeak-ng-data/mbrola/<name>) and returns the folder of the mbrola program,
    which espeak-ng runs from PATH. Raises SystemExit naming what is missing."""
    prog = os.path.join(mbrola_dir, "bin", "mbrola")
    if not os.access(prog, os.X_OK):
        raise SystemExit(f"mbrola engine: no executable {prog} (MBROLA_DIR from fetch-mbrola.sh)")
    dest = os.path.join(espeak_data, "espeak-ng-data", "mbrola")
    os.makedirs(dest, exist_ok=True)
    for v in MBROLA_VOICES:
        src = os.path.join(mbrola_dir, "voices", v)
        if not os.path.isfile(src):
            raise SystemExit(f"mbrola engine: no voice database {src} (MBROLA_DIR from fetch-mbrola.sh)")
        link = os.path.join(dest, v)
        if os.path.realpath(link) != os.path.realpath(src):
            tmp = f"{link}.{os.getpid()}.tmp"
            os.symlink(os.path.abspath(src), tmp)
            os.replace(tmp, link)
    return os.path.dirname(prog)


def render(job, bins):
    """Synthesize one espeak-ng, mbrola (espeak-ng's mb-* voices) or flite job dict; returns
    int16 samples at 16 kHz."""
    if job["engine"] in ("espeak", "mbrola"):
        voice = f"mb-{job['voice']}" if job["engine"] == "mbrola" else \
            job["voice"] + (f"+{job['variant']}" if job["variant"] else "")
        cmd = [bins["espeak-ng"], "-v", voice, "-s", str(job["rate"]), "-p", str(job["pitch"]),
               "-g", str(job.get("gap", 0)), "--stdout", job["text"]]
    else:
        cmd = [bins["flite"], "-voice", job["voice"], "--setf",
               f"duration_stretch={job['rate']}", "-t", job["text"], "-o", "/dev/stdout"]
        if job["pitch"]:
            cmd[3:3] = ["--setf", f"int_f0_target_mean={job['pitch']}"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.decode()[:200]}")
    x, sr = parse_wav(r.stdout)
    return to_16k(x, sr)


def gnuspeech_voice(rng, preset):
    """One utterance's vocal tract around a GnuSpeech preset (GNUSPEECH_VOICES)."""
    length, pitch = GNUSPEECH_VOICES[preset]
    p = {"vocal_tract_length": round(length * rng.uniform(0.9, 1.1), 2),
         "reference_glottal_pitch": round(pitch + rng.uniform(-3, 3), 1),
         "breathiness": round(rng.uniform(0.3, 2.5), 2)}
    for k in range(1, 9):
        p[f"radius_{k}_coef"] = round(rng.uniform(0.88, 1.12), 3)
    return p


def prosody(rng, engine, voice, train=False):
    """A job's prosody; train: the train split's ranges (TRAIN_F0, TRAIN_HTS_ALPHA), which the
    held-out sets never use."""
    if engine in ("espeak", "mbrola"):
        return {"rate": rng.randint(120, 200), "pitch": rng.randint(25, 75),
                "gap": rng.randint(0, 2) if rng.random() < 0.25 else 0}
    if engine == "gnuspeech":
        return {"rate": round(rng.uniform(*GNUSPEECH_TEMPO), 3), "pitch": 0,
                "params": gnuspeech_voice(rng, voice)}
    if engine == "pico":
        return {"rate": round(rng.uniform(*PICO_SPEED), 3),
                "pitch": round(rng.uniform(*PICO_PROSODY[voice]), 3)}
    if engine == "rhvoice":
        pitch = RHVOICE_VOICES.get(voice) or RHVOICE_DEV_VOICES[voice]
        return {"rate": round(rng.uniform(*RHVOICE_RATE), 3), "pitch": round(rng.uniform(*pitch), 3)}
    lo_hi = (FLITE_VOICES if engine == "flite" else FESTIVAL_VOICES)[voice]
    if train:
        lo_hi = TRAIN_F0.get(voice, lo_hi)
    p = {"rate": round(rng.uniform(0.9, 1.35 if engine == "flite" else 1.25), 3),
         "pitch": rng.randint(*lo_hi) if lo_hi else 0}
    if train and engine == "festival" and voice in TRAIN_HTS_ALPHA:
        p["alpha"] = round(rng.uniform(*TRAIN_HTS_ALPHA[voice]), 2)
    return p


def read_tsv(path):
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if line.strip()]


def make_jobs(split, sentences, train_voices, held, n, seed, per_voice, p_gnuspeech=0.0,
              p_rhvoice=0.0, p_mbrola=0.0, p_pico=0.0):
    """The job list of a split: a pure function of its arguments. p_gnuspeech (train only):
    the share drawn for gnuspeech first, then p_rhvoice the share of the rest drawn for
    rhvoice, then p_mbrola the share of what is left drawn for mbrola, then p_pico the share
    of what all three leave drawn for pico; 0 leaves the draws exactly as before."""
    jobs = []

    def job(i, src_text, engine, voice, variant, rng):
        src, text = src_text
        return {"id": f"{split}-{i:07d}", "text": text, "source": src, "engine": engine,
                "voice": voice, "variant": variant, **prosody(rng, engine, voice, split == "train")}

    if split == "train":
        for i in range(n):
            rng = random.Random(f"{seed}:{split}:{i}")
            u = rng.random()
            engine = "festival" if u < P_TRAIN["festival"] else \
                "flite" if u < P_TRAIN["festival"] + P_TRAIN["flite"] else "espeak"
            if p_gnuspeech and rng.random() < p_gnuspeech:
                engine = "gnuspeech"
            elif p_rhvoice and rng.random() < p_rhvoice:
                engine = "rhvoice"
            elif p_mbrola and rng.random() < p_mbrola:
                engine = "mbrola"
            elif p_pico and rng.random() < p_pico:
                engine = "pico"
            voice, variant = rng.choice(train_voices[engine])
            jobs.append(job(i, sentences[i % len(sentences)], engine, voice, variant, rng))
    elif split == "test-sentences":
        for i, s in enumerate(sentences[:n] if n else sentences):
            rng = random.Random(f"{seed}:{split}:{i}")
            engine = "flite" if rng.random() < P_FLITE else "espeak"
            voice, variant = rng.choice(train_voices[engine])
            jobs.append(job(i, s, engine, voice, variant, rng))
    elif split == "test-voices":
        i = 0
        for engine, voice, variant in held:
            rng0 = random.Random(f"{seed}:{split}:{engine}:{voice}:{variant}")
            for s in rng0.sample(sentences, min(per_voice, len(sentences))):
                rng = random.Random(f"{seed}:{split}:{i}")
                v = rng.choice(ESPEAK_VOICES) if voice == "*" else voice
                jobs.append(job(i, s, engine, v, variant, rng))
                i += 1
    else:
        raise SystemExit(f"unknown split {split!r}")
    return jobs


_BINS = None


def _init_worker():
    global _BINS
    _BINS = {"espeak-ng": tool("espeak-ng"), "flite": tool("flite")}
    if os.environ.get("FESTIVAL_LIBDIR"):
        _BINS["festival"] = tool("festival")
        _BINS["festival-lib"] = os.environ["FESTIVAL_LIBDIR"]
    if os.environ.get("GNUSPEECH_MODULES"):
        _BINS["node"] = tool("node")
        _BINS["gnuspeech"] = os.environ["GNUSPEECH_MODULES"]
    if os.environ.get("RHVOICE_DATA"):
        _BINS["rhvoice"] = None  # the engine, opened by the worker's first rhvoice job
    if os.environ.get("PICO_LANG"):
        _BINS["pico"] = None  # the engine, opened by the worker's first pico job
    if os.environ.get("MBROLA_DIR"):  # espeak-ng runs mbrola from PATH (prepare_mbrola)
        bin_dir = os.path.join(os.environ["MBROLA_DIR"], "bin")
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        _BINS["mbrola"] = bin_dir


def render_rhvoice(job, bins):
    """One rhvoice job's int16 samples at 16 kHz (None if RHVoice says nothing for it: the
    caller renders that one with espeak-ng instead)."""
    from rhvoice_render import RHVoice, RHVoiceError
    if bins.get("rhvoice") is None:
        bins["rhvoice"] = RHVoice(os.environ["RHVOICE_DATA"], os.environ["RHVOICE_LIB"],
                                  os.environ.get("RHVOICE_CONF"))
    try:
        x, sr = bins["rhvoice"].say(job["text"], job["voice"], rate=job["rate"], pitch=job["pitch"])
    except RHVoiceError:
        return None
    return to_16k(x, sr)


def render_pico(job, bins):
    """One pico job's int16 samples at 16 kHz (None if Pico says nothing for it: the caller
    renders that one with espeak-ng instead)."""
    from pico_render import Pico, PicoError
    if bins.get("pico") is None:
        bins["pico"] = Pico(os.environ["PICO_LANG"], os.environ["PICO_LIB"])
    try:
        x, sr = bins["pico"].say(job["text"], job["voice"], rate=job["rate"], pitch=job["pitch"])
    except PicoError:
        return None
    return to_16k(x, sr)


def render_mbrola(job, bins):
    """One mbrola job's int16 samples at 16 kHz (None if espeak-ng or mbrola fails on it or
    says nothing: the caller renders that one with espeak-ng instead)."""
    try:
        x = render(job, bins)
    except (RuntimeError, ValueError):
        return None
    return x if len(x) >= SR // 10 else None


def write_shard(args):
    """Render one shard's jobs and write it; returns (shard name, utts, seconds of audio)."""
    out_dir, idx, jobs = args
    base = os.path.join(out_dir, f"shard-{idx:05d}")
    if os.path.exists(base + ".json"):
        meta = json.load(open(base + ".json"))
        return idx, len(meta["utts"]), sum(u["duration"] for u in meta["utts"]), True
    pieces, utts, offset = [], [], 0
    fest = [j for j in jobs if j["engine"] == "festival"]
    if fest and "festival" not in _BINS:
        raise SystemExit("festival jobs need FESTIVAL_LIBDIR and festival (unpack-debs.sh)")
    rendered = {}
    if fest:
        tmp = base + ".festival.tmp"
        os.makedirs(tmp, exist_ok=True)
        rendered.update(zip((j["id"] for j in fest), render_festival(fest, _BINS, tmp)))
        shutil.rmtree(tmp, ignore_errors=True)
    gnu = [j for j in jobs if j["engine"] == "gnuspeech"]
    if gnu and "gnuspeech" not in _BINS:
        raise SystemExit("gnuspeech jobs need GNUSPEECH_MODULES and node (gnuspeech-render.mjs)")
    if gnu:
        tmp = base + ".gnuspeech.tmp"
        os.makedirs(tmp, exist_ok=True)
        rendered.update(zip((j["id"] for j in gnu), render_gnuspeech(gnu, _BINS, tmp)))
        shutil.rmtree(tmp, ignore_errors=True)
    if any(j["engine"] == "rhvoice" for j in jobs) and "rhvoice" not in _BINS:
        raise SystemExit("rhvoice jobs need RHVOICE_DATA, RHVOICE_LIB (stage-rhvoice.sh)")
    if any(j["engine"] == "mbrola" for j in jobs) and "mbrola" not in _BINS:
        raise SystemExit("mbrola jobs need MBROLA_DIR (fetch-mbrola.sh)")
    if any(j["engine"] == "pico" for j in jobs) and "pico" not in _BINS:
        raise SystemExit("pico jobs need PICO_LANG, PICO_LIB (fetch-pico.sh)")
    for j in jobs:
        x = rendered[j["id"]] if j["engine"] in ("festival", "gnuspeech") else \
            render_rhvoice(j, _BINS) if j["engine"] == "rhvoice" else \
            render_mbrola(j, _BINS) if j["engine"] == "mbrola" else \
            render_pico(j, _BINS) if j["engine"] == "pico" else render(j, _BINS)
        if x is None:
            j = espeak_fallback(j)
            x = render(j, _BINS)
        utts.append({**j, "offset": offset, "length": int(len(x)),
                     "duration": round(len(x) / SR, 3)})
        pieces.append(x)
        offset += len(x)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
    np.save(base + ".npy.tmp.npy", audio)
    os.replace(base + ".npy.tmp.npy", base + ".npy")
    with open(base + ".json.tmp", "w") as f:
        json.dump({"sample_rate": SR, "utts": utts}, f)
    os.replace(base + ".json.tmp", base + ".json")
    return idx, len(utts), offset / SR, False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", required=True, help="folder with train.tsv.xz and test.tsv.xz")
    ap.add_argument("--out", required=True, help="output folder (split subfolders)")
    ap.add_argument("--split", required=True,
                    choices=["train", "test", "test-voices", "test-sentences"],
                    help="'test' = test-voices and test-sentences")
    ap.add_argument("--utts", type=int, default=0,
                    help="train: number of utterances (default: one per sentence); "
                         "test-sentences: first N test sentences (default all)")
    ap.add_argument("--start-shard", type=int, default=0,
                    help="first shard index to render (train: to add shards in later calls)")
    ap.add_argument("--test-per-voice", type=int, default=300)
    ap.add_argument("--shard-size", type=int, default=500)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--espeak-data", default=os.environ.get("ESPEAK_DATA_PATH"),
                    help="folder holding espeak-ng-data (default $ESPEAK_DATA_PATH)")
    ap.add_argument("--gnuspeech", type=float, default=0.0,
                    help="train: share of utterances rendered by gnuspeech (default 0: none)")
    ap.add_argument("--rhvoice", type=float, default=0.0,
                    help="train: share of the utterances not given to gnuspeech rendered by "
                         "rhvoice (default 0: none)")
    ap.add_argument("--mbrola", type=float, default=0.0,
                    help="train: share of the utterances given to neither gnuspeech nor "
                         "rhvoice rendered by mbrola (default 0: none; needs MBROLA_DIR)")
    ap.add_argument("--pico", type=float, default=0.0,
                    help="train: share of the utterances given to none of gnuspeech, rhvoice "
                         "and mbrola rendered by pico (default 0: none; needs PICO_LANG, PICO_LIB)")
    ap.add_argument("--budget-s", type=float, default=0,
                    help="stop submitting shards after this many seconds (0: no limit)")
    a = ap.parse_args()
    if not 0.0 <= a.gnuspeech <= 1.0:
        raise SystemExit(f"--gnuspeech is a share of the train split, from 0 to 1, not {a.gnuspeech}")
    if not 0.0 <= a.rhvoice <= 1.0:
        raise SystemExit(f"--rhvoice is a share of the train split, from 0 to 1, not {a.rhvoice}")
    if not 0.0 <= a.mbrola <= 1.0:
        raise SystemExit(f"--mbrola is a share of the train split, from 0 to 1, not {a.mbrola}")
    if not 0.0 <= a.pico <= 1.0:
        raise SystemExit(f"--pico is a share of the train split, from 0 to 1, not {a.pico}")
    if a.pico and a.split == "train" and not (os.environ.get("PICO_LANG") and os.environ.get("PICO_LIB")):
        raise SystemExit("--pico needs PICO_LANG and PICO_LIB (fetch-pico.sh: lang/ and lib/)")
    if not a.espeak_data:
        raise SystemExit("set --espeak-data or ESPEAK_DATA_PATH (see unpack-debs.sh)")
    if a.mbrola and a.split == "train":
        if not os.environ.get("MBROLA_DIR"):
            raise SystemExit("--mbrola needs MBROLA_DIR (fetch-mbrola.sh: bin/mbrola and voices/)")
        prepare_mbrola(os.environ["MBROLA_DIR"], a.espeak_data)
    train_voices, held = voice_sets(a.espeak_data)
    splits = ["test-voices", "test-sentences"] if a.split == "test" else [a.split]
    summary = {}
    for split in splits:
        sents = read_tsv(os.path.join(a.text, "train.tsv.xz" if split == "train"
                                      else "test.tsv.xz"))
        n = a.utts or (len(sents) if split == "train" else 0)
        jobs = make_jobs(split, sents, train_voices, held, n, a.seed, a.test_per_voice,
                         a.gnuspeech if split == "train" else 0.0,
                         a.rhvoice if split == "train" else 0.0,
                         a.mbrola if split == "train" else 0.0,
                         a.pico if split == "train" else 0.0)
        out_dir = os.path.join(a.out, split)
        os.makedirs(out_dir, exist_ok=True)
        shards = [(out_dir, k, jobs[k * a.shard_size:(k + 1) * a.shard_size])
                  for k in range((len(jobs) + a.shard_size - 1) // a.shard_size)][a.start_shard:]
        t0 = time.time()
        done_utts, done_s, skipped = 0, 0.0, 0
        with mp.Pool(a.workers, initializer=_init_worker) as pool:
            it = pool.imap_unordered(write_shard, shards)
            for idx, nu, secs, was_there in it:
                done_utts += nu
                done_s += secs
                skipped += was_there
                el = time.time() - t0
                print(f"[{split}] shard {idx} {nu} utts {secs / 60:.1f} min audio"
                      f"{' (already there)' if was_there else ''}; total {done_utts} utts "
                      f"{done_s / 3600:.3f} h in {el:.1f} s", flush=True)
                if a.budget_s and el > a.budget_s:
                    pool.terminate()
                    print(f"[{split}] budget {a.budget_s} s reached, stopping", flush=True)
                    break
        el = time.time() - t0
        summary[split] = {"utts": done_utts, "audio_h": round(done_s / 3600, 4),
                          "wall_s": round(el, 2), "skipped_shards": skipped,
                          "utts_per_s": round(done_utts / el, 2),
                          "audio_h_per_wall_min": round(done_s / 3600 / (el / 60), 4),
                          "realtime_x": round(done_s / el, 1), "workers": a.workers}
        print(json.dumps({split: summary[split]}), flush=True)
    with open(os.path.join(a.out, f"summary-{a.split}.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
