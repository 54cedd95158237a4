#!/usr/bin/env bash
# Editor regression check through a real language server (issue 17), called by .ci/run. Installs csharp-ls as a
# local dotnet tool (dotnet-tools.json here pins the version), packs ModelGen, creates a sample project that restores
# that nupkg from a local folder feed, and drives the server over LSP with the C# client in this folder (Program.cs):
# the nupkg carries the generator; a valid model has no diagnostics; edits give the expected MG ids on the exact
# ranges and nothing else (a half-typed argument only the compiler's error); hovers show the layer table as a code
# block and a layer's kind and shapes; the time from each edit to its diagnostics is printed. csharp-ls runs
# analyzers only with `csharp.analyzersEnabled` (its default is off, and then no MG diagnostic shows at all); the
# client sets it. Prints "ide-check: PASS|FAIL <what>" per check (what .ci/run counts), "ide-check: SKIP <why>" when
# csharp-ls cannot be installed, and exits non-zero if anything failed. Usage: tools/ide-check/run.sh [rounds]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
rounds="${1:-3}"
SECONDS=0
fail() { echo "ide-check: FAIL $*"; exit 1; }

# 1. The server, as a local tool (restored into the NuGet cache; nothing global is installed).
if ! out=$(cd "$here" && dotnet tool restore 2>&1); then
  echo "$out" | tail -n 5
  echo "ide-check: SKIP csharp-ls could not be installed as a local dotnet tool (dotnet tool restore failed)"
  exit 0
fi

# 2. A work folder outside the repository, so the repository's Directory.Build.props and global.json do not apply to
#    the sample, and a fresh package folder, so a stale ModelGen of the same version is never reused.
work=$(mktemp -d "${TMPDIR:-/tmp}/modelgen-ide-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
version="0.0.0-idecheck"
if ! out=$(dotnet pack "$root/src/ModelGen" -c Release -o "$work/feed" -p:PackageVersion=$version 2>&1); then
  echo "$out" | tail -n 30
  fail "dotnet pack src/ModelGen"
fi
if ! out=$(dotnet build "$here/IdeCheck.csproj" -c Release -o "$work/client" 2>&1); then
  echo "$out" | tail -n 30
  fail "building the LSP client tools/ide-check/IdeCheck.csproj"
fi

mkdir -p "$work/sample"
cp "$here/sample/Models.cs" "$work/sample/Models.cs"
cat > "$work/sample/nuget.config" <<XML
<configuration>
  <packageSources><clear /><add key="local" value="$work/feed" /></packageSources>
</configuration>
XML
cat > "$work/sample/Sample.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <RestorePackagesPath>$work/packages</RestorePackagesPath>
  </PropertyGroup>
  <ItemGroup><PackageReference Include="ModelGen" Version="$version" /></ItemGroup>
</Project>
XML
# The server loads the project through MSBuild but does not restore it.
if ! out=$(cd "$work/sample" && dotnet restore 2>&1); then
  echo "$out" | tail -n 20
  fail "restoring the sample project from the packed nupkg"
fi
echo "ide-check: prepared (tool, pack, client, sample) in ${SECONDS} s"

# 3. The LSP session. The client prints its own PASS/FAIL lines; a crash or hang still has to count as a failure.
log="$work/client.log"
timeout 300 dotnet "$work/client/IdeCheck.dll" "$work/sample" "$here" "$work/feed/ModelGen.$version.nupkg" "$rounds" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] && ! grep -q '^ide-check: FAIL' "$log"; then
  echo "--- csharp-ls stderr (last lines)"
  tail -n 20 "$work/sample/csharp-ls.stderr.log" 2>/dev/null
  echo "ide-check: FAIL the LSP client ended with exit code $rc before finishing its checks"
fi
echo "ide-check: done in ${SECONDS} s"
[ "$rc" -eq 0 ]
