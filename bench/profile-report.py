#!/usr/bin/env python3
"""Reads a `perf record -g` profile of a Meridian binary (as `MODE=profile bench/cpu-per-request.sh` keeps them in
/tmp/meridian-profiles) and says where the samples went, in the terms the proxy's speed work uses:

  bench/profile-report.py DATA modules          each sample to the module of its innermost Swift frame; `rt:` when
                                                 the leaf is the runtime or libc (swift_retain, malloc, memmove, the
                                                 vDSO) called from that module; `kernel` for kernel leaves
  bench/profile-report.py DATA owned [N]         the samples whose innermost Swift frame is Meridian's (its code and
                                                 the runtime calls it makes, not NIO's or the kernel's), inclusive
                                                 per Meridian function: what each subtree costs Meridian itself
  bench/profile-report.py DATA children PREFIX   what the first frame starting with PREFIX (demangled) spends its
                                                 samples in, by callee
  bench/profile-report.py DATA parents PREFIX    who calls the first frame starting with PREFIX

Percentages are of all samples. Names are demangled with `swift demangle --simplified`. Needs perf and swift.
"""
import collections
import re
import subprocess
import sys


def samples(data):
    out = subprocess.run(['perf', 'script', '-i', data, '-F', 'ip,sym,dso'], capture_output=True, text=True).stdout
    for block in out.split('\n\n'):
        lines = [l.strip() for l in block.strip().split('\n') if l.strip()]
        if not lines:
            continue
        frames = []
        for l in lines:
            m = re.match(r'[0-9a-f]+ (.*?)(\+0x[0-9a-f]+)? \((.*)\)$', l)
            frames.append(m.group(1) if m else l)
        yield 'kernel' in lines[0], frames


def module(symbol):
    m = re.match(r'\$s(\d+)([A-Za-z_]+)', symbol)
    return m.group(2)[:int(m.group(1))] if m else None


def demangle(symbols):
    symbols = list(symbols)
    out = subprocess.run(['swift', 'demangle', '--simplified'], input='\n'.join(symbols), capture_output=True,
                         text=True).stdout.split('\n')
    return dict(zip(symbols, out))


def innermost_module(frames):
    for f in frames:
        m = module(f)
        if m:
            return m
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    data, mode = sys.argv[1], sys.argv[2]
    all_samples = list(samples(data))
    total = len(all_samples)
    if mode == 'modules':
        counts = collections.Counter()
        for kernel, frames in all_samples:
            if kernel:
                counts['kernel'] += 1
                continue
            m = innermost_module(frames) or 'other'
            counts[('' if frames[0].startswith('$s') else 'rt:') + m] += 1
        for k, v in counts.most_common(30):
            print(f'{100 * v / total:6.2f}% {k}')
    elif mode == 'owned':
        limit = int(sys.argv[3]) if len(sys.argv) > 3 else 80
        owned = 0
        inclusive = collections.Counter()
        for kernel, frames in all_samples:
            if kernel or not (innermost_module(frames) or '').startswith('Meridian'):
                continue
            owned += 1
            for f in set(frames):
                if (module(f) or '').startswith('Meridian'):
                    inclusive[f] += 1
        print(f'samples {total}, Meridian-owned {owned} ({100 * owned / total:.1f}%)')
        top = inclusive.most_common(limit)
        names = demangle(k for k, _ in top)
        for k, v in top:
            print(f'{100 * v / total:6.2f}% {names[k][:150]}')
    elif mode in ('children', 'parents') and len(sys.argv) > 3:
        prefix = sys.argv[3]
        names = demangle({f for _, frames in all_samples for f in frames})
        counts = collections.Counter()
        hit = 0
        for kernel, frames in all_samples:
            d = [names.get(f, f) for f in frames]
            for i, f in enumerate(d):
                if f.startswith(prefix):
                    hit += 1
                    if mode == 'children':
                        counts[('[kernel] ' if kernel and i > 0 else '') + (d[i - 1] if i > 0 else '<self>')] += 1
                    else:
                        counts[d[i + 1] if i + 1 < len(d) else '?'] += 1
                    break
        print(f'{prefix}: {100 * hit / total:.2f}% of samples')
        for k, v in counts.most_common(30):
            print(f'  {100 * v / total:6.2f}% {k[:140]}')
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
