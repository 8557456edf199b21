package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// result is one measurement: requests per second, latency quantiles,
// and the agent's and this process's (the clients') CPU time per request.
type result struct {
	n              int // requests that succeeded
	rate           float64
	p50, p99       time.Duration
	cpu, clientCPU time.Duration
	errs           int
}

// request does one request; a worker calls it in a loop.
type request func() error

// measure runs workers concurrent loops of the request newWorker makes
// for each, for d, and returns the rate and latencies of the requests
// that succeeded.
func measure(workers int, d time.Duration, newWorker func() (request, func(), error)) (result, error) {
	reqs := make([]request, workers)
	for i := range reqs {
		req, done, err := newWorker()
		if err != nil {
			return result{}, err
		}
		defer done()
		reqs[i] = req
	}
	lats := make([][]time.Duration, workers)
	errs := make([]int, workers)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t0 := time.Now(); t0.Before(end); t0 = time.Now() {
				if err := req(); err != nil {
					errs[i]++
					continue
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(lats...)
	if len(all) == 0 {
		return result{}, errors.New("no request succeeded")
	}
	slices.Sort(all)
	r := result{
		n:    len(all),
		rate: float64(len(all)) / time.Since(start).Seconds(),
		p50:  all[len(all)/2],
		p99:  all[len(all)*99/100],
	}
	for _, n := range errs {
		r.errs += n
	}
	return r, nil
}

// dnsWorker asks SRV questions for random services over its own UDP
// socket, with EDNS0 (1232 bytes, as dig and Go's resolver ask).
func dnsWorker(srv string, services int) func() (request, func(), error) {
	return func() (request, func(), error) {
		c, err := net.Dial("udp", srv)
		if err != nil {
			return nil, nil, err
		}
		var queries [][]byte
		for i := range services {
			q := new(dns.Msg)
			q.SetQuestion(serviceName(i)+".service.sdjoin.", dns.TypeSRV)
			q.SetEdns0(1232, false)
			b, err := q.Pack()
			if err != nil {
				return nil, nil, err
			}
			queries = append(queries, b)
		}
		buf := make([]byte, 4096)
		req := func() error {
			q := queries[rand.IntN(len(queries))]
			id := uint16(rand.Uint32())
			binary.BigEndian.PutUint16(q, id)
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(q); err != nil {
				return err
			}
			for {
				n, err := c.Read(buf)
				if err != nil {
					return err
				}
				if n >= 12 && binary.BigEndian.Uint16(buf) == id { // else a late answer to a timed-out query
					return checkDNS(buf[:n])
				}
			}
		}
		return req, func() { c.Close() }, nil
	}
}

// checkDNS checks a reply's header: NOERROR, not truncated, answers.
func checkDNS(b []byte) error {
	flags, ancount := binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[6:])
	if flags&0xf != 0 || flags&0x0200 != 0 || ancount == 0 {
		return fmt.Errorf("DNS reply: flags %#x, %d answers", flags, ancount)
	}
	return nil
}

// controlWorker asks the control socket to pick a provider of a random
// service (one connection per request, as sdjoin pick does).
func controlWorker(sock string, services int) func() (request, func(), error) {
	return func() (request, func(), error) {
		buf := make([]byte, 4096)
		req := func() error {
			c, err := net.Dial("unix", sock)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			b, _ := json.Marshal(map[string]string{"op": "pick", "service": serviceName(rand.IntN(services)), "policy": "random"})
			if _, err := c.Write(append(b, '\n')); err != nil {
				return err
			}
			line, err := bufio.NewReaderSize(c, len(buf)).ReadSlice('\n')
			if err != nil {
				return err
			}
			var r struct {
				Error   string            `json:"error"`
				Entries []json.RawMessage `json:"entries"`
			}
			if err := json.Unmarshal(line, &r); err != nil || r.Error != "" || len(r.Entries) != 1 {
				return fmt.Errorf("pick: %s (%v)", line, err)
			}
			return nil
		}
		return req, func() {}, nil
	}
}

// httpWorker GETs /v1/pick/NAME of a random service over a kept-alive
// connection.
func httpWorker(base string, services int) func() (request, func(), error) {
	return func() (request, func(), error) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		cl := &http.Client{Transport: tr, Timeout: 2 * time.Second}
		req := func() error {
			resp, err := cl.Get(base + "/v1/pick/" + serviceName(rand.IntN(services)))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /v1/pick: %s", resp.Status)
			}
			return nil
		}
		return req, tr.CloseIdleConnections, nil
	}
}
