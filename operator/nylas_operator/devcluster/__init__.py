"""A local Kubernetes control plane for development and tests (never imported by the product).

- ``build``: pinned versions; builds kube-apiserver, kube-controller-manager, etcd, helm (and kubectl
  if none >= 1.33 is installed) from the Go module proxy into a per-version cache.
- ``certs``: CAs, serving and admin client certificates, service-account keys (openssl).
- ``processes``: spawning tied to this process, pids with start times, free ports.
- ``controlplane``: ``ControlPlane`` (etcd + kube-apiserver + kube-controller-manager) and detached mode.
- ``cli``: ``nylas-operator cluster build|up|down|status``.
"""
