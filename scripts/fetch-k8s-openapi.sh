#!/usr/bin/env bash
# Fetches the real Kubernetes OpenAPI (swagger.json) of the minimum Kubernetes version mqop
# supports, from the k8s.io/kubernetes module on the Go module proxy, into the cache folder.
# The property tests validate every rendered object against it.
set -euo pipefail
K8S_MIN_VERSION="${K8S_MIN_VERSION:-v1.31.0}"
CACHE="${MQOP_CACHE:-$HOME/.cache/mqop}"
out="$CACHE/k8s-openapi/$K8S_MIN_VERSION/swagger.json"
if [[ -s "$out" ]]; then
  echo "k8s OpenAPI $K8S_MIN_VERSION: cached at $out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
dir="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_MIN_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
cp "$dir/api/openapi-spec/swagger.json" "$out.tmp"
mv "$out.tmp" "$out"
echo "k8s OpenAPI $K8S_MIN_VERSION: fetched to $out"
