// Command pause is the Pod sandbox of the local node: it holds the Pod's namespaces and does nothing.
//
// registry.k8s.io is unreachable from the machines this project is tested on, so the node's
// sandbox image is built offline from this file (nylas_operator/devcluster/images.py), static
// (CGO_ENABLED=0). Like the upstream pause: it exits on SIGTERM/SIGINT and, as PID 1 of a shared
// PID namespace, reaps the orphans re-parented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
