#!/usr/bin/env python3
"""ModelGen's table from one PeerBench results file: ModelGen vs the best peer per workload.

Usage: report.py RESULTS.json [MACHINE.json] [--markdown]
RESULTS.json is the peers harness's schema (rows of workload, peer, batch, threads, median_us, ...);
MACHINE.json (written by ModelGenPeer) holds the single-thread FMA peak measured in the same run.
ratio = ModelGen median / best peer median (< 1: ModelGen faster); speedup = its inverse.
All workloads are listed; those without a ModelGen figure print n/a.
"""
import json
import sys

ORDER = [("W1_mlp_infer", 1, 1), ("W1_mlp_infer", 64, 1), ("W2_mlp_train", 64, 1),
         ("W3_lenet_infer", 1, 1), ("W3_lenet_infer", 64, 1), ("W3_lenet_train", 64, 1),
         ("W4_sgemm_256", 1, 1), ("W4_sgemm_512", 1, 1), ("W4_sgemm_1024", 1, 1),
         ("W5_transformer_infer", 1, 1), ("W6_lstm_infer", 1, 1), ("W6_lstm_infer", 16, 1),
         ("W7_lstm_train", 32, 1), ("W8_transformer_train", 16, 1),
         ("W4_sgemm_256", 1, 2), ("W4_sgemm_512", 1, 2), ("W4_sgemm_1024", 1, 2)]
SHORT = {"torchsharp": "TS", "onnxruntime": "ORT", "modelgen": "MG"}


def main(argv):
    markdown = "--markdown" in argv
    argv = [a for a in argv if a != "--markdown"]
    rows = json.load(open(argv[0]))
    machine = {}
    if len(argv) > 1:
        try:
            machine = json.load(open(argv[1]))
        except (OSError, ValueError):
            pass
    peak = machine.get("fma_peak_gflops_1t")
    cells = {}
    for r in rows:
        cells.setdefault((r["workload"], r["batch"], r["threads"]), {})[r["peer"]] = r
    keys = [k for k in ORDER if k in cells] + [k for k in cells if k not in ORDER]
    only = {r["workload"] for r in rows}
    keys += [k for k in ORDER if k not in cells and not any(k[0] == w for w in only)]

    head = ["workload", "batch", "thr", "MG us", "TS us", "ORT us", "best peer", "MG/best", "speedup",
            "MG alloc B", "MG GFLOP/s", "% of FMA peak"]
    out = []
    for key in keys:
        c = cells.get(key, {})
        mg = c.get("modelgen")
        peers = {p: r for p, r in c.items() if p != "modelgen"}
        best = min(peers.items(), key=lambda kv: kv[1]["median_us"]) if peers else None

        def us(p):
            return f'{c[p]["median_us"]:.1f}' if p in c else "-"

        if mg is None:
            line = [key[0], key[1], key[2], "n/a", us("torchsharp"), us("onnxruntime"),
                    SHORT.get(best[0], best[0]) if best else "-", "n/a", "", "", "", ""]
        else:
            ratio = mg["median_us"] / best[1]["median_us"] if best else None
            gf = mg.get("gflops")
            frac = ""
            if peak and key[0].startswith("W4_"):
                frac = f"{100 * gf / (peak * key[2]):.0f}%"   # vs the per-core peak times the threads used
            line = [key[0], key[1], key[2], f'{mg["median_us"]:.1f}', us("torchsharp"), us("onnxruntime"),
                    SHORT.get(best[0], best[0]) if best else "-",
                    f"{ratio:.2f}" if ratio else "-", f"{1 / ratio:.2f}x" if ratio else "-",
                    f'{mg["alloc_bytes_per_call"]:.0f}', f"{gf:.1f}" if gf else "", frac]
        out.append([str(x) for x in line])

    print()
    if peak:
        print(f"FMA peak (measured in this run): {peak:.1f} GFLOP/s single thread, "
              f"{machine.get('fma_width_bits')}-bit, on {machine.get('cpu', '?')}")
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in out:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(l[i]) for l in out)) if out else len(h) for i, h in enumerate(head)]
        print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
        print("-" * (sum(widths) + 2 * (len(widths) - 1)))
        for line in out:
            print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(line, widths))))
    print("MG/best = ModelGen median time / fastest peer's (< 1: ModelGen faster); speedup = best/MG;"
          " % of FMA peak = GEMM GFLOP/s / (threads x single-thread peak).")


if __name__ == "__main__":
    main(sys.argv[1:])
