"""RHVoice (statistical parametric synthesis, HTS-style models trained on CMU ARCTIC speakers)
driven through its C API with ctypes: no binary of its own to carry, only libRHVoice.so.5,
libRHVoice_core.so.7 and libsonic.so.0 (Debian 12 non-free/main packages, fetch-rhvoice.sh).

    engine = RHVoice(data_dir, lib_dir)      # data_dir holds languages/ and voices/
    samples, rate = engine.say("hello there", "bdl", rate=1.1, pitch=0.9)

One engine per process (synthesize.py's workers each open their own). `rate` and `pitch` are
RHVoice's relative values (1: the voice's own; the engine clips rate to its own range unless
RHVoice_synth_flag_dont_clip_rate is set, which is not).
"""
import ctypes as C
import os

import numpy as np

SET_RATE = C.CFUNCTYPE(C.c_int, C.c_int, C.c_void_p)
PLAY = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_uint, C.c_void_p)


class _Callbacks(C.Structure):
    # RHVoice.h (1.8): the two required callbacks, then seven optional ones left NULL
    _fields_ = [("set_sample_rate", SET_RATE), ("play_speech", PLAY), ("process_mark", C.c_void_p),
                ("word_starts", C.c_void_p), ("word_ends", C.c_void_p),
                ("sentence_starts", C.c_void_p), ("sentence_ends", C.c_void_p),
                ("play_audio", C.c_void_p), ("done", C.c_void_p)]


class _InitParams(C.Structure):
    _fields_ = [("data_path", C.c_char_p), ("config_path", C.c_char_p),
                ("resource_paths", C.POINTER(C.c_char_p)), ("callbacks", _Callbacks),
                ("options", C.c_uint)]


class _SynthParams(C.Structure):
    _fields_ = [("voice_profile", C.c_char_p),
                ("absolute_rate", C.c_double), ("absolute_pitch", C.c_double),
                ("absolute_volume", C.c_double), ("relative_rate", C.c_double),
                ("relative_pitch", C.c_double), ("relative_volume", C.c_double),
                ("punctuation_mode", C.c_int), ("punctuation_list", C.c_char_p),
                ("capitals_mode", C.c_int), ("flags", C.c_int)]


MESSAGE_TEXT = 0


class RHVoiceError(RuntimeError):
    """RHVoice could not start or could not say a text."""


class RHVoice:
    """An RHVoice engine over the language and voice data in `data_dir`."""

    def __init__(self, data_dir, lib_dir, config_dir=None):
        for name in ("libsonic.so.0", "libRHVoice_core.so.7"):
            # the dependencies first, by path: lib_dir is not on the loader's search path
            C.CDLL(os.path.join(lib_dir, name), mode=C.RTLD_GLOBAL)
        self._lib = C.CDLL(os.path.join(lib_dir, "libRHVoice.so.5"))
        lib = self._lib
        lib.RHVoice_new_tts_engine.restype = C.c_void_p
        lib.RHVoice_new_tts_engine.argtypes = [C.POINTER(_InitParams)]
        lib.RHVoice_new_message.restype = C.c_void_p
        lib.RHVoice_new_message.argtypes = [C.c_void_p, C.c_char_p, C.c_uint, C.c_int,
                                            C.POINTER(_SynthParams), C.c_void_p]
        lib.RHVoice_speak.argtypes = [C.c_void_p]
        lib.RHVoice_delete_message.argtypes = [C.c_void_p]
        lib.RHVoice_delete_tts_engine.argtypes = [C.c_void_p]
        self._chunks, self._rate = [], 0

        def set_rate(rate, _user):
            self._rate = rate
            return 1

        def play(samples, count, _user):
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
            return 1

        # kept on self: ctypes callbacks must outlive every call that may invoke them
        self._cb = (SET_RATE(set_rate), PLAY(play))
        config_dir = config_dir or data_dir  # no RHVoice.conf there: every setting its default
        params = _InitParams(data_path=data_dir.encode(), config_path=config_dir.encode(),
                             resource_paths=None,
                             callbacks=_Callbacks(set_sample_rate=self._cb[0], play_speech=self._cb[1]),
                             options=0)
        self._engine = lib.RHVoice_new_tts_engine(C.byref(params))
        if not self._engine:
            raise RHVoiceError(f"RHVoice found no usable language or voice data under {data_dir}")

    def say(self, text, voice, rate=1.0, pitch=1.0):
        """int16 samples and their rate for `text` in `voice` (a voice folder's name)."""
        self._chunks, self._rate = [], 0
        sp = _SynthParams(voice_profile=voice.encode(), absolute_rate=0.0, absolute_pitch=0.0,
                          absolute_volume=0.0, relative_rate=float(rate),
                          relative_pitch=float(pitch), relative_volume=1.0, punctuation_mode=0,
                          punctuation_list=None, capitals_mode=0, flags=0)
        raw = text.encode("utf-8")
        msg = self._lib.RHVoice_new_message(self._engine, raw, len(raw), MESSAGE_TEXT,
                                            C.byref(sp), None)
        if not msg:
            raise RHVoiceError(f"RHVoice refused the text {text[:60]!r} for voice {voice!r}")
        try:
            ok = self._lib.RHVoice_speak(msg)
        finally:
            self._lib.RHVoice_delete_message(msg)
        if not ok or not self._chunks or not self._rate:
            raise RHVoiceError(f"RHVoice said nothing for {text[:60]!r} in voice {voice!r}")
        return np.concatenate(self._chunks), self._rate

    def close(self):
        if self._engine:
            self._lib.RHVoice_delete_tts_engine(self._engine)
            self._engine = None
