//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// serfRPC is a minimal client of serf's agent RPC (msgpack over TCP, as
// serf's own client package speaks it): enough to list members and set
// tags. One request at a time.
type serfRPC struct {
	c   net.Conn
	w   *bufio.Writer
	enc *codec.Encoder
	dec *codec.Decoder
	seq uint64
}

type rpcHeader struct {
	Command string
	Seq     uint64
}

type rpcResponse struct {
	Seq   uint64
	Error string
}

// serfMember is the part of serf's RPC member this bench reads.
type serfMember struct {
	Name   string
	Tags   map[string]string
	Status string
}

// newSerfRPC handshakes on c, which it owns from then on.
func newSerfRPC(c net.Conn) (*serfRPC, error) {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TimeNotBuiltin = true // as serf's own RPC client
	w := bufio.NewWriter(c)
	r := &serfRPC{c: c, w: w, enc: codec.NewEncoder(w, h), dec: codec.NewDecoder(bufio.NewReader(c), h)}
	if err := r.call("handshake", struct{ Version int32 }{1}, nil); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// call sends command with body (none when nil) and decodes the reply's
// body into out (none when nil).
func (r *serfRPC) call(command string, body, out any) error {
	r.seq++
	if err := r.enc.Encode(rpcHeader{Command: command, Seq: r.seq}); err != nil {
		return err
	}
	if body != nil {
		if err := r.enc.Encode(body); err != nil {
			return err
		}
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	var resp rpcResponse
	if err := r.dec.Decode(&resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return fmt.Errorf("serf rpc %s: %s", command, resp.Error)
	}
	if out != nil {
		return r.dec.Decode(out)
	}
	return nil
}

func (r *serfRPC) members() ([]serfMember, error) {
	var out struct{ Members []serfMember }
	err := r.call("members", nil, &out)
	return out.Members, err
}

func (r *serfRPC) setTag(k, v string) error {
	return r.call("tags", struct {
		Tags       map[string]string
		DeleteTags []string
	}{Tags: map[string]string{k: v}}, nil)
}

func (r *serfRPC) close() { r.c.Close() }
