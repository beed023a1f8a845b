// Command load fetches one URL with N concurrent clients for a fixed time and
// reports the bytes received per second, for comparing deskprov's firmware
// delivery with a reference server on the same file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to fetch")
	clients := flag.Int("c", 4, "concurrent clients")
	dur := flag.Duration("d", 8*time.Second, "how long to run")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "usage: load -url URL [-c clients] [-d duration]")
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients, DisableCompression: true}
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var bytes, full, rejected, failed atomic.Int64
	buf := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				if resp.StatusCode == http.StatusServiceUnavailable {
					rejected.Add(1)
					resp.Body.Close()
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					continue
				}
				b := buf.Get().(*[]byte)
				for {
					n, err := resp.Body.Read(*b)
					bytes.Add(int64(n))
					if err != nil {
						if errors.Is(err, io.EOF) {
							full.Add(1)
						}
						break
					}
				}
				buf.Put(b)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("clients=%d seconds=%.1f bytes=%d MBps=%.1f complete=%d rejected=%d errors=%d\n",
		*clients, el, bytes.Load(), float64(bytes.Load())/el/1e6, full.Load(), rejected.Load(), failed.Load())
}
