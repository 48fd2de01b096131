"""SVOX Pico (the Android TTS engine: HMM-based statistical parametric synthesis, one recorded
speaker a language) driven through its C API with ctypes: no binary of its own to carry, only
libttspico.so.0 and the English lingware (Debian non-free svox packages, fetch-pico.sh).

    engine = Pico(lang_dir, lib_dir)          # lang_dir holds en-US_ta.bin, en-US_lh0_sg.bin, ...
    samples, rate = engine.say("hello there", "en-US", rate=1.1, pitch=0.9)

Voices are lingware pairs: a text analysis file (<voice>_ta.bin) and a signal generation file
(PICO_VOICES below). `rate` and `pitch` are factors on the voice's own, sent as Pico's markup
(<speed level>, <pitch level>, in percent; the engine accepts 20..500 and 50..200). One system
per process (synthesize.py's workers each open their own); its voices are loaded once.
"""
import ctypes as C
import os

import numpy as np

# voice -> (text analysis lingware, signal generation lingware): the two English speakers
PICO_VOICES = {"en-US": ("en-US_ta.bin", "en-US_lh0_sg.bin"),
               "en-GB": ("en-GB_ta.bin", "en-GB_kh0_sg.bin")}
PICO_RATE = 16000
_MEM_SIZE = 12000000  # the lingware loads into it: 2.5 MB (pico2wave's, one voice) is too little for two
_STEP_BUSY = 201
_RESET_FULL = 0
_RETSTRING = 200


class PicoError(RuntimeError):
    """Pico could not start or could not say a text."""


class Pico:
    """A Pico system with every voice of PICO_VOICES loaded from `lang_dir`."""

    def __init__(self, lang_dir, lib_dir):
        self._lib = lib = C.CDLL(os.path.join(lib_dir, "libttspico.so.0"))
        for name in ("pico_initialize", "pico_loadResource", "pico_getResourceName",
                     "pico_createVoiceDefinition", "pico_addResourceToVoiceDefinition",
                     "pico_newEngine", "pico_putTextUtf8", "pico_getData", "pico_resetEngine",
                     "pico_disposeEngine", "pico_terminate", "pico_getSystemStatusMessage"):
            getattr(lib, name).restype = C.c_int
        self._mem = C.create_string_buffer(_MEM_SIZE)  # kept: the engine lives in it
        self._system = C.c_void_p()
        self._check(lib.pico_initialize(self._mem, C.c_uint32(_MEM_SIZE), C.byref(self._system)),
                    "initialize")
        self._engine, self._voice = C.c_void_p(), None
        for voice, files in PICO_VOICES.items():
            lib.pico_createVoiceDefinition(self._system, voice.encode())
            for f in files:
                path = os.path.join(lang_dir, f)
                if not os.path.isfile(path):
                    raise PicoError(f"Pico lingware {path} is missing (PICO_LANG from fetch-pico.sh)")
                res, name = C.c_void_p(), C.create_string_buffer(_RETSTRING)
                self._check(lib.pico_loadResource(self._system, path.encode(), C.byref(res)), f"load {path}")
                self._check(lib.pico_getResourceName(self._system, res, name), f"name of {path}")
                self._check(lib.pico_addResourceToVoiceDefinition(self._system, voice.encode(), name.value),
                            f"add {path} to {voice}")

    def _engine_for(self, voice):
        # the system runs one engine at a time (a second: "no more than 1 engines"), so a
        # change of voice replaces it (about a millisecond; the lingware stays loaded)
        if voice not in PICO_VOICES:
            raise PicoError(f"Pico has no voice {voice!r} (voices: {', '.join(PICO_VOICES)})")
        if voice != self._voice:
            if self._voice is not None:
                self._lib.pico_disposeEngine(self._system, C.byref(self._engine))
                self._voice = None
            self._check(self._lib.pico_newEngine(self._system, voice.encode(), C.byref(self._engine)),
                        f"engine {voice}")
            self._voice = voice
        return self._engine

    def _check(self, status, what):
        if status != 0:
            msg = C.create_string_buffer(_RETSTRING)
            self._lib.pico_getSystemStatusMessage(self._system, status, msg)
            raise PicoError(f"Pico {what}: {status} {msg.value.decode(errors='replace')}")

    def say(self, text, voice, rate=1.0, pitch=1.0):
        """int16 samples and their rate (16 kHz) for `text` in `voice` (a PICO_VOICES key)."""
        engine = self._engine_for(voice)
        # a full reset first: the engine carries state (its excitation noise among it) from one
        # text to the next, so without it the same job renders other samples the second time
        self._lib.pico_resetEngine(engine, _RESET_FULL)
        # markup characters in the text would be read as tags: the training text has none,
        # but a stray '<' must not silently change the prosody
        clean = text.replace("<", " ").replace(">", " ")
        marked = (f'<speed level="{round(100 * rate)}"><pitch level="{round(100 * pitch)}">'
                  f"{clean}</pitch></speed>")
        raw = marked.encode("utf-8") + b"\0"  # the terminating NUL makes the engine flush
        if len(raw) > 32767:  # the engine takes a text's size as a 16-bit count
            raise PicoError(f"Pico takes at most 32,767 bytes a text, not {len(raw)} ({text[:60]!r}...)")
        buf = C.create_string_buffer(raw, len(raw))
        out = C.create_string_buffer(4096)
        sent, got, kind = C.c_int16(), C.c_int16(), C.c_int16()
        chunks, pos = [], 0
        while pos < len(raw):
            status = self._lib.pico_putTextUtf8(engine, C.byref(buf, pos), C.c_int16(len(raw) - pos),
                                                C.byref(sent))
            if status != 0:
                self._lib.pico_resetEngine(engine, _RESET_FULL)
                raise PicoError(f"Pico refused the text {text[:60]!r} for voice {voice!r}: {status}")
            pos += sent.value
            while True:
                status = self._lib.pico_getData(engine, out, C.c_int16(len(out)), C.byref(got), C.byref(kind))
                if got.value:
                    chunks.append(np.frombuffer(C.string_at(out, got.value), dtype="<i2"))  # only the bytes received
                if status != _STEP_BUSY:
                    break
        if not chunks:
            raise PicoError(f"Pico said nothing for {text[:60]!r} in voice {voice!r}")
        return np.concatenate(chunks), PICO_RATE

    def close(self):
        if self._system:
            if self._voice is not None:
                self._lib.pico_disposeEngine(self._system, C.byref(self._engine))
            self._lib.pico_terminate(C.byref(self._system))
            self._system = None
