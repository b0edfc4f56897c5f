#!/usr/bin/env bash
# Deploys hello-http with orchctl flags (the equivalent of hello-http.yaml), waits until it runs,
# then curls every healthy replica at the address its agent reported.
set -euo pipefail
orchctl="${ORCHCTL:-node dist/src/cli/main.js}"
$orchctl deploy hello --image "${IMAGE:-hello-http:1}" --replicas 3 --cpu 100m --memory 64Mi \
  --command /bin/sh --arg -c \
  --arg 'echo "hello-http listening on $PORT ($GREETING)"; exec httpd -f -v -p "$PORT" -h /www' \
  --env GREETING=hello --port http=8080 --health-port http --wait
for _ in $(seq 1 60); do
  addresses="$($orchctl endpoints hello --output json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).endpoints.map(e=>e.address).join(" ")))')"
  [ "$(echo "$addresses" | wc -w)" -ge 3 ] && break
  sleep 1
done
for address in $addresses; do echo "== $address"; curl -s "http://$address/"; done
