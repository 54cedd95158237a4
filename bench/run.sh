#!/usr/bin/env bash
# ModelGen beside ONNX Runtime and TorchSharp, in one run of the peers harness.
#   bench/run.sh                         full run (validation, interleaved timing), table + JSON
#   bench/run.sh --only W1,W4            workload-id prefixes
#   bench/run.sh --quick                 smoke run (3 reps x 100 ms)
#   bench/run.sh --out FILE              JSON in the peers' schema (default bench/.build/results.json)
# Any other option goes to PeerBench (--peers, --reps, --rep-ms, --validate-only, ...).
# How: the peers harness (shared/peers, read-only) is copied into bench/.build/peers, this folder's ModelGen peer
# (ModelGenPeer.cs, BenchMlp.cs, BenchLeNet.cs, BenchLstm.cs, BenchTagger.cs, BenchTransformer.cs, BenchCharLm.cs, FmaPeak.cs) is added
# to its sources and registered in its peer list twice ("modelgen": the models' Forward; "modelgen-predictor": their
# CreatePredictor() snapshots, W1/W3/W5/W6 inference), and the copy references src/ModelGen plus the generator as an analyzer.
# Nothing of the harness enters ModelGen's projects.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The peers harness: $MODELGEN_PEERS_DIR, else shared/ beside the clone (CI layout), else the workplace's copy.
PEERS="${MODELGEN_PEERS_DIR:-}"
for candidate in "$REPO/../shared/peers" /work/shared/peers; do
  [[ -z "$PEERS" && -f "$candidate/PeerBench/Program.cs" ]] && PEERS="$(cd "$candidate" && pwd)"
done
[[ -n "$PEERS" && -f "$PEERS/PeerBench/Program.cs" ]] || { echo "run.sh: peers harness not found (set MODELGEN_PEERS_DIR)" >&2; exit 2; }

OUT="$BENCH/.build/results.json"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

# 1. scratch copy of the harness (re-synced every run so harness updates are picked up)
WORK="$BENCH/.build/peers"
mkdir -p "$WORK/PeerBench"
cp -f "$PEERS"/run.sh "$PEERS"/shim.cpp "$PEERS"/weakver.py "$WORK/"
mkdir -p "$WORK/tools" && cp -f "$PEERS"/tools/*.py "$WORK/tools/"
cp -f "$PEERS"/PeerBench/*.cs "$WORK/PeerBench/"
chmod -R u+w "$WORK"
# 2. add the ModelGen peer: our sources, a project reference to the runtime and the generator, one registration line
cp -f "$BENCH"/ModelGenPeer.cs "$BENCH"/BenchMlp.cs "$BENCH"/BenchLeNet.cs "$BENCH"/BenchLstm.cs "$BENCH"/BenchTagger.cs \
  "$BENCH"/BenchTransformer.cs "$BENCH"/BenchCharLm.cs \
  "$BENCH"/FmaPeak.cs "$WORK/PeerBench/"
python3 - "$PEERS/PeerBench/Program.cs" "$WORK/PeerBench/Program.cs" "$PEERS/PeerBench/PeerBench.csproj" "$WORK/PeerBench/PeerBench.csproj" "$REPO" <<'PY'
import sys
src, dst, proj_src, proj_dst, repo = sys.argv[1:]
anchor = '("onnxruntime", () => new OrtPeer()),'
text = open(src).read()
if text.count(anchor) != 1:
    sys.exit(f"run.sh: cannot register the ModelGen peer: expected one '{anchor}' in {src}")
new = text.replace(anchor, anchor + '\n    ("modelgen", () => new ModelGenPeer()),'
                         '\n    ("modelgen-predictor", () => new ModelGenPeer(predictor: true)),')
if open(dst).read() != new:
    open(dst, "w").write(new)
proj = open(proj_src).read()
refs = f'''  <ItemGroup>
    <ProjectReference Include="{repo}/src/ModelGen/ModelGen.csproj" />
    <ProjectReference Include="{repo}/generators/ModelGen.Generators/ModelGen.Generators.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
  </ItemGroup>
</Project>'''
if proj.count("</Project>") != 1:
    sys.exit(f"run.sh: unexpected project file {proj_src}")
proj = proj.replace("</Project>", refs)
try:
    same = open(proj_dst).read() == proj
except FileNotFoundError:
    same = False
if not same:
    open(proj_dst, "w").write(proj)
PY

# 3. the harness's own script does the build, the TorchSharp workaround, the models and the run
export MODELGEN_BENCH_MACHINE_OUT="${OUT%.json}.machine.json"   # FMA peak etc., beside the results
rm -f "$MODELGEN_BENCH_MACHINE_OUT" "$OUT"
status=0
bash "$WORK/run.sh" --out "$OUT" ${ARGS[@]+"${ARGS[@]}"} || status=$?

# 4. ModelGen's view: ratio to the best peer, alloc B/call, GEMM as a fraction of the measured FMA peak
if [[ -f "$OUT" ]]; then
  python3 "$BENCH/report.py" "$OUT" "$MODELGEN_BENCH_MACHINE_OUT"
fi
exit $status
