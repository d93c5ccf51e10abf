// dnsprobe: the test client that runs inside the real-node test pods. Static, no libc, no
// shell: it is the only program in its image (Debian's static busybox wget segfaults on
// this kernel). Name resolution is Go's own resolver, which reads the container's
// /etc/resolv.conf (nameserver, search list, ndots) the way glibc does.
//
//	dnsprobe sleep                              wait for SIGTERM/SIGINT (a pod to exec into)
//	dnsprobe cat FILE                           print a file
//	dnsprobe resolve [-timeout D] NAME...       resolve each name once; JSON line per name;
//	                                            exit 1 if any failed
//	dnsprobe resolve-loop [-interval D] [-timeout D] NAME...
//	                                            resolve forever; JSON lines on every change
//	                                            between working and failing, and a heartbeat
//	dnsprobe get [-timeout D] [-insecure] URL   HTTP(S) GET; JSON line with status, body
//	                                            start and the server certificate's names
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe sleep|cat|resolve|resolve-loop|get ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "sleep":
		waitForSignal()
	case "cat":
		os.Exit(cat(args))
	case "resolve":
		os.Exit(resolveOnce(args))
	case "resolve-loop":
		os.Exit(resolveLoop(args))
	case "get":
		os.Exit(get(args))
	default:
		fmt.Fprintf(os.Stderr, "dnsprobe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func emit(v map[string]any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func nowMs() int64 { return time.Now().UnixMilli() }

func waitForSignal() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}

func cat(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe cat FILE")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Stdout.Write(data)
	return 0
}

// lookup resolves name to IPv4 addresses through the search list, bounded by timeout.
func lookup(name string, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", name)
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out, err
}

func resolveOnce(args []string) int {
	fs := flag.NewFlagSet("resolve", flag.ExitOnError)
	timeout := fs.Duration("timeout", 3*time.Second, "bound on each lookup")
	_ = fs.Parse(args)
	status := 0
	for _, name := range fs.Args() {
		started := time.Now()
		ips, err := lookup(name, *timeout)
		result := map[string]any{"name": name, "ips": ips, "ms": time.Since(started).Milliseconds()}
		if err != nil {
			result["error"] = err.Error()
			status = 1
		}
		emit(result)
	}
	return status
}

// resolveLoop resolves the names in turn every interval, forever. It prints a "down" line
// when a lookup fails after success (or first), an "up" line with the length of the failed
// window when one succeeds again, and a heartbeat every second: the test reads the lines
// as they come (kubectl logs -f) and never has to trust a single lookup.
func resolveLoop(args []string) int {
	fs := flag.NewFlagSet("resolve-loop", flag.ExitOnError)
	interval := fs.Duration("interval", 50*time.Millisecond, "time between the starts of two lookups")
	timeout := fs.Duration("timeout", 250*time.Millisecond, "bound on each lookup")
	_ = fs.Parse(args)
	names := fs.Args()
	if len(names) == 0 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe resolve-loop [-interval D] [-timeout D] NAME...")
		return 2
	}
	emit(map[string]any{"event": "start", "t": nowMs(), "names": names, "intervalMs": interval.Milliseconds(), "timeoutMs": timeout.Milliseconds()})
	var downSince int64 // start of the first failed lookup of the current window; 0 = up
	var failedInWindow, lookups, failures int64
	lastBeat := time.Now()
	ticker := time.NewTicker(*interval)
	defer ticker.Stop()
	for i := 0; ; i++ {
		name := names[i%len(names)]
		started := nowMs()
		_, err := lookup(name, *timeout)
		lookups++
		if err != nil {
			failures++
			failedInWindow++
			if downSince == 0 {
				downSince = started
				emit(map[string]any{"event": "down", "t": started, "name": name, "error": err.Error()})
			}
		} else if downSince != 0 {
			t := nowMs()
			emit(map[string]any{"event": "up", "t": t, "name": name, "downSince": downSince, "windowMs": t - downSince, "failedLookups": failedInWindow})
			downSince, failedInWindow = 0, 0
		}
		if time.Since(lastBeat) >= time.Second {
			lastBeat = time.Now()
			emit(map[string]any{"event": "beat", "t": nowMs(), "up": downSince == 0, "lookups": lookups, "failures": failures})
		}
		<-ticker.C
	}
}

func get(args []string) int {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "bound on the request")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate (its names are printed)")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe get [-timeout D] [-insecure] URL")
		return 2
	}
	url := fs.Arg(0)
	client := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: *insecure}, Proxy: nil},
	}
	result := map[string]any{"url": url}
	res, err := client.Get(url)
	if err != nil {
		result["error"] = err.Error()
		emit(result)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	result["status"] = res.StatusCode
	result["body"] = strings.TrimSpace(string(body))
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		result["certDNSNames"] = res.TLS.PeerCertificates[0].DNSNames
	}
	emit(result)
	return 0
}
