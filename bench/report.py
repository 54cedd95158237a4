#!/usr/bin/env python3
"""ModelGen's table from one PeerBench results file: ModelGen vs the best peer per workload.

Usage: report.py RESULTS.json [MACHINE.json] [--markdown]
RESULTS.json is the peers harness's schema (rows of workload, peer, batch, threads, median_us, ...);
MACHINE.json (written by ModelGenPeer) holds the single-thread FMA peak measured in the same run.
Two ModelGen peers: "modelgen" (MG, the models' own Forward) and "modelgen-predictor" (MG-P, their CreatePredictor()
snapshots; W1/W3/W5/W6 inference only). The best peer is the fastest of the others (TorchSharp, ONNX Runtime).
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
SHORT = {"torchsharp": "TS", "onnxruntime": "ORT", "modelgen": "MG", "modelgen-predictor": "MG-P"}
OURS = ("modelgen", "modelgen-predictor")


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

    head = ["workload", "batch", "thr", "MG us", "MG-P us", "TS us", "ORT us", "best peer", "MG/best", "speedup",
            "MG-P speedup", "MG alloc B", "MG-P alloc B", "MG GFLOP/s", "MG-P GFLOP/s", "% of FMA peak"]
    out = []
    for key in keys:
        c = cells.get(key, {})
        mg, mgp = c.get("modelgen"), c.get("modelgen-predictor")
        peers = {p: r for p, r in c.items() if p not in OURS}
        best = min(peers.items(), key=lambda kv: kv[1]["median_us"]) if peers else None

        def us(p):
            return f'{c[p]["median_us"]:.1f}' if p in c else "-"

        def speedup(r):
            return f'{best[1]["median_us"] / r["median_us"]:.2f}x' if r and best else ""

        def gflops(r):
            return f'{r["gflops"]:.1f}' if r and r.get("gflops") else ""

        def alloc(r):
            return f'{r["alloc_bytes_per_call"]:.0f}' if r else ""

        # Share of the FMA peak: GEMM (W4, per thread used) and the predictor's inference (W1/W3/W5/W6, one thread).
        frac = ""
        if peak and key[0].startswith("W4_") and mg and mg.get("gflops"):
            frac = f'{100 * mg["gflops"] / (peak * key[2]):.0f}%'
        elif peak and mgp and mgp.get("gflops"):
            frac = f'{100 * mgp["gflops"] / (peak * key[2]):.0f}% (MG-P)'
        if mg is None and mgp is None:
            line = [key[0], key[1], key[2], "n/a", "", us("torchsharp"), us("onnxruntime"),
                    SHORT.get(best[0], best[0]) if best else "-", "n/a", "", "", "", "", "", "", ""]
        else:
            ratio = mg["median_us"] / best[1]["median_us"] if mg and best else None
            line = [key[0], key[1], key[2], us("modelgen") if mg else "n/a", us("modelgen-predictor") if mgp else "",
                    us("torchsharp"), us("onnxruntime"), SHORT.get(best[0], best[0]) if best else "-",
                    f"{ratio:.2f}" if ratio else "-", speedup(mg), speedup(mgp), alloc(mg), alloc(mgp),
                    gflops(mg), gflops(mgp), frac]
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
    print("MG = the model's Forward, MG-P = its predictor (CreatePredictor()); MG/best = ModelGen median time / fastest"
          " other peer's (< 1: ModelGen faster); speedup = best/MG (MG-P speedup = best/MG-P); % of FMA peak ="
          " GFLOP/s / (threads x single-thread peak), for W4's GEMM and the predictor's inference.")


if __name__ == "__main__":
    main(sys.argv[1:])
