// pause: the sandbox ("infra") container of every Pod on the host-route cluster
// (scripts/cluster/host-up.sh). It holds the Pod's namespaces open and does nothing else:
// it waits for SIGINT/SIGTERM and exits 0, and reaps children if it happens to be PID 1 of a
// shared PID namespace. Written for mqop because the offline machines have no registry to pull
// a pause image from and Debian ships none.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
