"""Authentik SSO (directive Phase 3): OAuth2 clients for Grafana, Jellyfin and Open WebUI.

One model, two sides:
- authentik side (namespace `authentik`): a blueprint ConfigMap in the format of the authentik release
  the Flux repo pins (facts; rules/authentik_release.py, ADR 0024): groups, OAuth2 providers,
  applications, and the MFA stage pinned to `skip` while prohibition 1 holds; a Secret with every client
  secret as env vars the blueprint reads through `!Env`, and the admin bootstrap Secret. The chart
  mounts them with the pinned chart's keys (`helm_values`: `blueprints` and `envFrom` on 2023.10.x);
  the HelmRelease itself stays with Flux.
- app side: one Secret per client in the app's namespace holding exactly the keys that app reads,
  and for Jellyfin (configured only through its plugin API) an idempotent Job that posts the config.

Client secrets, the bootstrap password and the bootstrap token come from `generated_secret`: they
live in Pulumi state and Kubernetes Secrets only, never in a ConfigMap, the docs, logs or outputs.
"""
