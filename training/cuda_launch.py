"""CUDA C kernels for PyTorch training without a build step: compiled at run time by NVRTC and
launched through the CUDA driver API with ctypes, on PyTorch's current stream (GPU machine); or
the same source compiled for the host by g++ under cuda_kernels/emulate.h (a thread per CUDA
thread), so that the tests check the very text the GPU runs on any machine with g++.

    kernels = load_kernels('wkv7.cu', {'WKV_N': 64}, device=torch.device('cuda'))
    kernels.wkv7_forward(grid, block, B, T, ..., tensor, ..., None)   # None: a null pointer

Arguments are ints (C `int`), float32 tensors (their data pointers; contiguous, on the
kernels' device) or None. Why not torch.utils.cpp_extension: it needs a host compiler, ninja
and the CUDA headers on the GPU machine, where only the driver and NVRTC are known to work
(the same route as packages/cuda, which calls them from TypeScript).
"""
import ctypes
import glob
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL_DIR = os.path.join(HERE, 'cuda_kernels')
_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)


class KernelError(RuntimeError):
    """A kernel could not be compiled, loaded or launched (the message says which and why)."""


def kernel_signatures(source):
    """[(name, [(c_type, param_name)])] of the source's extern "C" __global__ kernels."""
    out = []
    for name, params in _SIGNATURE.findall(source):
        ps = []
        for p in params.split(','):
            p = ' '.join(p.split())
            m = re.match(r'(.*?)(\w+)$', p)
            if not m:
                raise KernelError(f'kernel {name}: cannot read parameter {p!r}')
            ctype = m.group(1).replace(' *', '*').strip()
            if ctype not in ('int', 'const float*', 'float*'):
                raise KernelError(f'kernel {name}: parameter {p!r} is not int, float* or const float*')
            ps.append((ctype, m.group(2)))
        out.append((name, ps))
    if not out:
        raise KernelError('no extern "C" __global__ kernels in the source')
    return out


def _source(file, defines):
    with open(os.path.join(KERNEL_DIR, file)) as f:
        body = f.read()
    head = ''.join(f'#define {k} {v}\n' for k, v in sorted(defines.items()))
    return head + body


class _Kernels:
    """Kernels by name as attributes: kernels.NAME(grid, block, *args)."""

    def __init__(self, launchers):
        self._launchers = launchers
        for name, fn in launchers.items():
            setattr(self, name, fn)


def _pointer(arg, ctype, name, device):
    import torch
    if arg is None:
        return ctypes.c_void_p(0)
    if not isinstance(arg, torch.Tensor):
        raise KernelError(f'argument {name}: expected a tensor or None for {ctype}, got {type(arg).__name__}')
    if arg.dtype != torch.float32 or not arg.is_contiguous() or arg.device != device:
        raise KernelError(f'argument {name}: need a contiguous float32 tensor on {device}, '
                          f'got {arg.dtype} on {arg.device} (contiguous: {arg.is_contiguous()})')
    return ctypes.c_void_p(arg.data_ptr())


def _int(arg, name):
    if not isinstance(arg, int):
        raise KernelError(f'argument {name}: expected an int, got {type(arg).__name__}')
    return ctypes.c_int(arg)


# ---------------------------------------------------------------------------------------------
# host: g++ under emulate.h (tests)

_host_cache = {}


def _host_kernels(source, signatures):
    import torch
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    if key in _host_cache:
        return _host_cache[key]
    wrappers = []
    for name, params in signatures:
        decl = ', '.join(f'{t} {n}' for t, n in params)
        call = ', '.join(n for _, n in params)
        wrappers.append(f'extern "C" void emulated_{name}(unsigned grid, unsigned block, {decl}) '
                        f'{{ emulate_launch(grid, block, [&] {{ {name}({call}); }}); }}')
    unit = f'#include "{os.path.join(KERNEL_DIR, "emulate.h")}"\n{source}\n' + '\n'.join(wrappers) + '\n'
    folder = tempfile.mkdtemp(prefix='cuda-emulated-')
    cpp, lib = os.path.join(folder, 'kernels.cpp'), os.path.join(folder, f'kernels-{key}.so')
    with open(cpp, 'w') as f:
        f.write(unit)
    cmd = ['g++', '-std=c++20', '-O2', '-fPIC', '-shared', '-pthread', '-Wno-unused-parameter', cpp, '-o', lib]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise KernelError(f'g++ could not compile the emulated kernels ({cpp}):\n{done.stderr}')
    dll = ctypes.CDLL(lib)
    launchers = {}
    for name, params in signatures:
        fn = getattr(dll, f'emulated_{name}')
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint] + [ctypes.c_int if t == 'int' else ctypes.c_void_p
                                                        for t, _ in params]
        fn.restype = None

        def launch(grid, block, *args, _fn=fn, _params=params, _name=name):
            if len(args) != len(_params):
                raise KernelError(f'{_name}: {len(_params)} arguments expected, {len(args)} given')
            vals = [_int(a, n) if t == 'int' else _pointer(a, t, n, torch.device('cpu'))
                    for a, (t, n) in zip(args, _params)]
            _fn(ctypes.c_uint(grid), ctypes.c_uint(block), *vals)

        launchers[name] = launch
    _host_cache[key] = _Kernels(launchers)
    return _host_cache[key]


# ---------------------------------------------------------------------------------------------
# GPU: NVRTC + driver API

def _library_dirs():
    dirs = []
    for var in ('CUDA_PATH', 'CUDA_HOME'):
        if os.environ.get(var):
            dirs.append(os.path.join(os.environ[var], 'lib64'))
    dirs += [d for d in os.environ.get('LD_LIBRARY_PATH', '').split(':') if d]
    dirs += ['/usr/local/cuda/lib64'] + sorted(glob.glob('/usr/local/cuda-*/lib64'), reverse=True)
    for p in sys.path:  # pip's CUDA wheels (nvidia/cuda_nvrtc/lib, nvidia/cu13/lib)
        dirs += glob.glob(os.path.join(p, 'nvidia', '*', 'lib'))
    return dirs


def _open(names, what):
    tried = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            tried.append(name)
    for d in _library_dirs():
        for name in names:
            path = os.path.join(d, name)
            if os.path.exists(path):
                try:
                    return ctypes.CDLL(path)
                except OSError as e:
                    tried.append(f'{path} ({e})')
    raise KernelError(f'{what} not found: tried {", ".join(names)} on the loader path and in '
                      f'{", ".join(_library_dirs()) or "no folders"} (CUDA_PATH, CUDA_HOME, LD_LIBRARY_PATH, '
                      f'/usr/local/cuda*/lib64, pip nvidia/*/lib)')


class _Driver:
    def __init__(self):
        self.cu = _open(['libcuda.so.1', 'libcuda.so'], 'the CUDA driver (libcuda)')
        self.nvrtc = _open(['libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so'], 'NVRTC (libnvrtc)')
        self.lock = threading.Lock()
        self._check(self.cu.cuInit(0), 'cuInit')

    def _check(self, res, what):
        if res != 0:
            name = ctypes.c_char_p()
            self.cu.cuGetErrorName(res, ctypes.byref(name))
            raise KernelError(f'{what} failed: {name.value.decode() if name.value else res}')

    def _nvrtc_check(self, res, what, prog=None):
        if res != 0:
            self.nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
            msg = self.nvrtc.nvrtcGetErrorString(res).decode()
            log = ''
            if prog is not None:
                size = ctypes.c_size_t()
                self.nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
                buf = ctypes.create_string_buffer(size.value)
                self.nvrtc.nvrtcGetProgramLog(prog, buf)
                log = buf.value.decode(errors='replace')
            raise KernelError(f'{what} failed: {msg}\n{log}')

    def ensure_context(self, ordinal):
        ctx = ctypes.c_void_p()
        self._check(self.cu.cuCtxGetCurrent(ctypes.byref(ctx)), 'cuCtxGetCurrent')
        if not ctx.value:
            dev = ctypes.c_int()
            self._check(self.cu.cuDeviceGet(ctypes.byref(dev), ordinal), 'cuDeviceGet')
            self._check(self.cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), 'cuDevicePrimaryCtxRetain')
            self._check(self.cu.cuCtxSetCurrent(ctx), 'cuCtxSetCurrent')

    def compile(self, source, arch):
        prog = ctypes.c_void_p()
        self._nvrtc_check(self.nvrtc.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b'kernels.cu',
                                                        0, None, None), 'nvrtcCreateProgram')
        opts = [f'--gpu-architecture=sm_{arch}'.encode(), b'--std=c++17']
        arr = (ctypes.c_char_p * len(opts))(*opts)
        self._nvrtc_check(self.nvrtc.nvrtcCompileProgram(prog, len(opts), arr), 'nvrtcCompileProgram', prog)
        size = ctypes.c_size_t()
        self._nvrtc_check(self.nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(size)), 'nvrtcGetCUBINSize')
        cubin = ctypes.create_string_buffer(size.value)
        self._nvrtc_check(self.nvrtc.nvrtcGetCUBIN(prog, cubin), 'nvrtcGetCUBIN')
        self.nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
        return cubin

    def module(self, cubin, names):
        mod = ctypes.c_void_p()
        self._check(self.cu.cuModuleLoadData(ctypes.byref(mod), cubin), 'cuModuleLoadData')
        fns = {}
        for n in names:
            f = ctypes.c_void_p()
            self._check(self.cu.cuModuleGetFunction(ctypes.byref(f), mod, n.encode()), f'cuModuleGetFunction({n})')
            fns[n] = f
        return fns

    def launch(self, fn, grid, block, vals, stream, ordinal, name):
        self.ensure_context(ordinal)
        params = (ctypes.c_void_p * len(vals))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in vals])
        self._check(self.cu.cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, ctypes.c_void_p(stream), params, None),
                    f'cuLaunchKernel({name})')


_driver = None
_gpu_cache = {}


def _gpu_kernels(source, signatures, device):
    import torch
    global _driver
    ordinal = device.index if device.index is not None else torch.cuda.current_device()
    device = torch.device('cuda', ordinal)  # tensors report 'cuda:N': compare like with like
    major, minor = torch.cuda.get_device_capability(ordinal)
    key = (hashlib.sha256(source.encode()).hexdigest(), ordinal)
    if key in _gpu_cache:
        return _gpu_cache[key]
    if _driver is None:
        _driver = _Driver()
    torch.cuda.init()
    with torch.cuda.device(ordinal):
        torch.empty(1, device=device)  # the primary context exists and is current here
        _driver.ensure_context(ordinal)
        fns = _driver.module(_driver.compile(source, f'{major}{minor}'), [n for n, _ in signatures])
    launchers = {}
    for name, params in signatures:
        def launch(grid, block, *args, _fn=fns[name], _params=params, _name=name):
            if len(args) != len(_params):
                raise KernelError(f'{_name}: {len(_params)} arguments expected, {len(args)} given')
            vals = [_int(a, n) if t == 'int' else _pointer(a, t, n, device) for a, (t, n) in zip(args, _params)]
            stream = torch.cuda.current_stream(device).cuda_stream
            _driver.launch(_fn, grid, block, vals, stream, ordinal, _name)

        launchers[name] = launch
    _gpu_cache[key] = _Kernels(launchers)
    return _gpu_cache[key]


_loaded = {}


def load_kernels(file, defines, device):
    """The kernels of cuda_kernels/FILE with #defines, for a torch.device: 'cuda' compiles them
    with NVRTC for that GPU, 'cpu' with g++ under emulate.h (slow: for tests).

    The source is read once a process for each (file, defines, device): a training step asks for
    its kernels every call, and on 2026-12-06 a re-read failed when the device tool re-copied
    the working tree under the running trainer (FileNotFoundError at step 1,500 of the tenth run)."""
    key = (file, tuple(sorted((k, str(v)) for k, v in defines.items())), str(device))
    if key not in _loaded:
        _loaded[key] = _load_kernels(file, defines, device)
    return _loaded[key]


def _load_kernels(file, defines, device):
    source = _source(file, defines)
    signatures = kernel_signatures(source)
    if device.type == 'cuda':
        return _gpu_kernels(source, signatures, device)
    if device.type == 'cpu':
        return _host_kernels(source, signatures)
    raise KernelError(f'no kernels for device type {device.type!r}')
