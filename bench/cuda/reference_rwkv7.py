"""The official RWKV-7 inference code (BlinkDL/RWKV-LM, RWKV-v7/rwkv_v7_demo_fast.py: fp16,
its wkv7s CUDA kernel, TorchScript) timed on given weights, for bench/src/cuda-vs-pytorch.ts.

    python3 bench/cuda/reference_rwkv7.py --ref DIR --weights W.safetensors --layers 12 --embd 768 \
        --vocab 65536 --decode 200 --prefill 512 --out result.json

DIR is the RWKV-v7 folder of an RWKV-LM copy kept OUTSIDE this repository (the demo file and
its cuda/ folder). The demo's model code is executed as the file defines it; only its
tokenizer and demo loop (everything from `class RWKV_TOKENIZER`) are left out, and its
`args` are set to the given shape. Weights come from our safetensors file (read here with
numpy) and are saved as the .pth the demo loads. The demo has no batched path: B streams
run one after another, which is what its throughput at batch B is.
"""
import argparse, json, os, struct, sys, time

import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--weights', required=True)
p.add_argument('--layers', type=int, required=True)
p.add_argument('--embd', type=int, required=True)
p.add_argument('--vocab', type=int, required=True)
p.add_argument('--decode', type=int, default=200)
p.add_argument('--prefill', type=int, default=512)
p.add_argument('--prefill-rounds', type=int, default=7, help='prefill calls timed; the best is taken')
p.add_argument('--batch-streams', type=int, default=4, help='streams timed round-robin for the batch figure')
p.add_argument('--out', required=True)
a = p.parse_args()


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        dt = {'F16': np.float16, 'F32': np.float32}[meta['dtype']]
        lo, hi = meta['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data, dtype=dt, count=(hi - lo) // np.dtype(dt).itemsize, offset=lo).copy().reshape(meta['shape']))
    return out


pth = os.path.join('/tmp', f'ref-rwkv7-{a.layers}x{a.embd}')
torch.save(read_safetensors(a.weights), pth + '.pth')

source = open(os.path.join(a.ref, 'rwkv_v7_demo_fast.py')).read()
source = source[: source.index('class RWKV_TOKENIZER')]
# A real module file: TorchScript reads the source of the classes it compiles.
mod_dir = '/tmp/ref-rwkv7-module'
os.makedirs(mod_dir, exist_ok=True)
open(os.path.join(mod_dir, 'rwkv_v7_demo_fast_model.py'), 'w').write(source)
sys.path.insert(0, mod_dir)
os.chdir(a.ref)  # the demo compiles cuda/wkv7s*.{cpp,cu} by relative path
import importlib
ns = vars(importlib.import_module('rwkv_v7_demo_fast_model'))
args = ns['args']
args.MODEL_NAME, args.n_layer, args.n_embd, args.vocab_size, args.head_size = pth, a.layers, a.embd, a.vocab, 64
torch.cuda.reset_peak_memory_stats()
model = ns['RWKV_x070'](args)
weights_mem = torch.cuda.memory_allocated()


def timed(fn, reps):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


prompt = [(i * 7919) % a.vocab for i in range(a.prefill)]
_, state = model.forward(prompt[:16], None)  # warm-up (compiles, TorchScript profiling runs)
for _ in range(3):
    model.forward(prompt, None)
prefill_s = min(timed(lambda: model.forward(prompt, None), 1) for _ in range(a.prefill_rounds))

tok = [1]
st = [state]
def step():
    out, st[0] = model.forward(tok[0], st[0])
for _ in range(10):
    step()
decode_s = timed(step, a.decode)

# B streams, each with its own state, stepped in turn (the code has no batched step).
states = [model.forward(prompt[:16], None)[1] for _ in range(a.batch_streams)]
def round_robin():
    for i in range(len(states)):
        _, states[i] = model.forward(tok[0], states[i])
round_robin()
rr_s = timed(round_robin, max(1, a.decode // a.batch_streams)) / len(states)

res = {
    'code': 'BlinkDL/RWKV-LM RWKV-v7/rwkv_v7_demo_fast.py (fp16, wkv7s CUDA kernel, TorchScript)',
    'torch': torch.__version__,
    'device': torch.cuda.get_device_name(),
    'decode_b1_tok_s': 1 / decode_s,
    'decode_streams_in_turn_tok_s': 1 / rr_s,
    'prefill_b1_tok_s': a.prefill / prefill_s,
    'weights_bytes_on_gpu': weights_mem,
    'peak_bytes': torch.cuda.max_memory_allocated(),
}
json.dump(res, open(a.out, 'w'), indent=1)
print(json.dumps(res, indent=1))
