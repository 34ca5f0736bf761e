//go:build tools

// Package tools pins the Kubernetes commands the test control plane is built from.
// Nothing here is compiled into the operator; nylas_operator/devcluster/build.py builds them.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	// kube-scheduler and kubelet make the optional node (`nylas-operator cluster up --with-node`).
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	// kubectl is built only when no kubectl >= 1.33 is installed; pinned here so go.sum covers it.
	_ "k8s.io/kubernetes/cmd/kubectl"
)
