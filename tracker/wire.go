package tracker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ProtocolVersion is the version of this package's wire format (the
// message kinds below and their encodings, node meta included). Nodes
// with different versions may not understand each other; it changes
// with any incompatible change.
const ProtocolVersion = nodeMetaVersion

// Wire message kinds. Every payload this package hands to memberlist
// (broadcasts, reliable messages, push/pull state) starts with one of them.
const (
	kindDelta    byte = 1 // one change of one writer (broadcast)
	kindSyncReq  byte = 2 // "send me your copies of these writers" (reliable)
	kindSyncResp byte = 3 // records answering a kindSyncReq (reliable)
	kindState    byte = 4 // push/pull state
	kindLeave    byte = 5 // a writer leaves gracefully (broadcast)
)

// Operations carried by a delta.
const (
	opPut    byte = 1 // entry added or replaced
	opDel    byte = 2 // entry removed
	opNotice byte = 3 // version bumped, change too big to gossip: sync from the writer
)

// errShort is returned by the decoders on truncated input.
var errShort = errors.New("tracker: truncated message")

// entry is one tracked (service, key) of a writer, as stored and sent.
type entry struct {
	Service string
	Key     string
	Meta    map[string]string
	Version uint64 // the writer's version when this entry was last written
}

// record is everything one writer (node) has tracked, at one version.
type record struct {
	Node    string
	Boot    uint64
	Version uint64
	Entries []entry
}

// delta is one change by a writer, gossiped through the broadcast queue.
type delta struct {
	Node    string
	Boot    uint64
	Version uint64
	Op      byte
	Service string
	Key     string
	Meta    map[string]string
}

// digestItem says which version of a writer a node holds.
type digestItem struct {
	Node    string
	Boot    uint64
	Version uint64
}

// pushState is the push/pull payload: a few full records (the sender's
// own, and on join others up to joinStateBytes) and a digest of every
// record the sender holds, so the receiver can ask for what it is missing.
type pushState struct {
	From    string
	Records []record
	Raw     [][]byte // more records, already encoded (encodeState sends them after Records)
	Digest  []digestItem
}

// check enforces the limits on a received push/pull state.
func (s *pushState) check() error {
	if err := validName("node name", s.From); err != nil {
		return err
	}
	for i := range s.Records {
		if err := s.Records[i].check(); err != nil {
			return err
		}
	}
	for _, it := range s.Digest {
		if err := validName("node name", it.Node); err != nil {
			return err
		}
	}
	return nil
}

// syncReq asks a peer for its copies of some writers' records.
type syncReq struct {
	From  string
	Nodes []string
}

// encoder appends the wire encoding of values to a buffer.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)     { e.b = append(e.b, v) }
func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }

// meta writes a map in sorted key order so equal maps encode equally.
func (e *encoder) meta(m map[string]string) {
	e.uint(uint64(len(m)))
	var small [8]string // most metas are a few keys: sort them without allocating
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.string(k)
		e.string(m[k])
	}
}

func (e *encoder) record(r *record) {
	e.string(r.Node)
	e.uint(r.Boot)
	e.uint(r.Version)
	e.uint(uint64(len(r.Entries)))
	for i := range r.Entries {
		en := &r.Entries[i]
		e.string(en.Service)
		e.string(en.Key)
		e.uint(en.Version)
		e.meta(en.Meta)
	}
}

// decoder reads values written by encoder; the first error sticks and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must be satisfiable by the remaining input,
// each item taking at least min bytes; this bounds allocations on garbage.
func (d *decoder) count(min int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/min) {
		d.fail(fmt.Errorf("tracker: count %d exceeds message size", n))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) meta() map[string]string {
	n := d.count(2)
	if d.err != nil || n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

func (d *decoder) record() record {
	r, _ := d.recordUnless(nil)
	return r
}

// recordUnless reads a record. If skip, called with its node and stamp,
// says so, the entries are checked for framing and passed over without
// being kept (skipped is true and r.Entries nil).
func (d *decoder) recordUnless(skip func(node string, s stamp) bool) (r record, skipped bool) {
	r = record{Node: d.string(), Boot: d.uint(), Version: d.uint()}
	n := d.count(4)
	if d.err != nil {
		return r, false
	}
	if skip != nil && skip(r.Node, r.stamp()) {
		for range n {
			d.pass()
			d.pass()
			d.uint()
			for range d.count(2) {
				d.pass()
				d.pass()
			}
		}
		return r, true
	}
	r.Entries = make([]entry, 0, n)
	for range n {
		en := entry{Service: d.string(), Key: d.string(), Version: d.uint()}
		en.Meta = d.meta()
		if d.err != nil {
			return r, false
		}
		r.Entries = append(r.Entries, en)
	}
	return r, false
}

// pass reads a string without keeping it.
func (d *decoder) pass() {
	n := d.count(1)
	if d.err == nil {
		d.b = d.b[n:]
	}
}

// done reports the sticky error, or an error if bytes are left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("tracker: %d trailing bytes", len(d.b))
	}
	return d.err
}

func encodeDelta(m *delta) []byte {
	e := encoder{b: make([]byte, 0, 64)}
	e.byte(kindDelta)
	e.string(m.Node)
	e.uint(m.Boot)
	e.uint(m.Version)
	e.byte(m.Op)
	e.string(m.Service)
	e.string(m.Key)
	e.meta(m.Meta)
	return e.b
}

// decodeDelta decodes a kindDelta message, kind byte included.
func decodeDelta(b []byte) (delta, error) {
	d := decoder{b: b}
	if k := d.byte(); d.err == nil && k != kindDelta {
		return delta{}, fmt.Errorf("tracker: message kind %d is not a delta", k)
	}
	m := delta{Node: d.string(), Boot: d.uint(), Version: d.uint(), Op: d.byte()}
	m.Service = d.string()
	m.Key = d.string()
	m.Meta = d.meta()
	if err := d.done(); err != nil {
		return delta{}, err
	}
	if err := m.check(); err != nil {
		return delta{}, err
	}
	return m, nil
}

// check enforces on a received delta the limits Track enforces locally.
func (m *delta) check() error {
	if err := validName("node name", m.Node); err != nil {
		return err
	}
	switch m.Op {
	case opNotice:
		if m.Service != "" || m.Key != "" || len(m.Meta) > 0 {
			return errors.New("tracker: notice with a payload")
		}
		return nil
	case opPut, opDel:
		return checkEntry(m.Service, m.Key, m.Meta)
	}
	return fmt.Errorf("tracker: unknown delta op %d", m.Op)
}

// check enforces on a received record the limits of a local one.
func (r *record) check() error {
	if err := validName("node name", r.Node); err != nil {
		return err
	}
	if len(r.Entries) > MaxEntries {
		return fmt.Errorf("tracker: record of %.20q has %d entries, limit %d", r.Node, len(r.Entries), MaxEntries)
	}
	for i := range r.Entries {
		e := &r.Entries[i]
		if err := checkEntry(e.Service, e.Key, e.Meta); err != nil {
			return err
		}
	}
	return nil
}

// checkNames checks every name of a received message.
func checkNames(what string, names ...string) error {
	for _, n := range names {
		if err := validName(what, n); err != nil {
			return err
		}
	}
	return nil
}

func encodeSyncReq(m *syncReq) []byte {
	e := encoder{}
	e.byte(kindSyncReq)
	e.string(m.From)
	e.uint(uint64(len(m.Nodes)))
	for _, n := range m.Nodes {
		e.string(n)
	}
	return e.b
}

func decodeSyncReq(b []byte) (syncReq, error) {
	d := decoder{b: b}
	if k := d.byte(); d.err == nil && k != kindSyncReq {
		return syncReq{}, fmt.Errorf("tracker: message kind %d is not a sync request", k)
	}
	m := syncReq{From: d.string()}
	n := d.count(1)
	for range n {
		m.Nodes = append(m.Nodes, d.string())
	}
	if err := d.done(); err != nil {
		return syncReq{}, err
	}
	if err := checkNames("node name", m.From); err != nil {
		return syncReq{}, err
	}
	if err := checkNames("node name", m.Nodes...); err != nil {
		return syncReq{}, err
	}
	return m, nil
}

// encodeRecords encodes a message of kind carrying records encoded by
// encodeRecord.
func encodeRecords(kind byte, raw [][]byte) []byte {
	e := encoder{}
	e.byte(kind)
	e.uint(uint64(len(raw)))
	for _, r := range raw {
		e.b = append(e.b, r...)
	}
	return e.b
}

// encodeRecord returns r as a state or sync response carries it.
func encodeRecord(r *record) []byte {
	e := encoder{}
	e.record(r)
	return e.b
}

// decodeSyncResp decodes a kindSyncResp message.
func decodeSyncResp(b []byte) ([]record, error) {
	d := decoder{b: b}
	if k := d.byte(); d.err == nil && k != kindSyncResp {
		return nil, fmt.Errorf("tracker: message kind %d is not a sync response", k)
	}
	n := d.count(4)
	rs := make([]record, 0, n)
	for range n {
		rs = append(rs, d.record())
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	for i := range rs {
		if err := rs[i].check(); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func encodeState(s *pushState) []byte {
	e := encoder{}
	e.byte(kindState)
	e.string(s.From)
	e.uint(uint64(len(s.Records) + len(s.Raw)))
	for i := range s.Records {
		e.record(&s.Records[i])
	}
	for _, r := range s.Raw {
		e.b = append(e.b, r...)
	}
	e.uint(uint64(len(s.Digest)))
	for _, it := range s.Digest {
		e.string(it.Node)
		e.uint(it.Boot)
		e.uint(it.Version)
	}
	return e.b
}

// decodeState decodes a push/pull payload. Records for which skip (if
// not nil) returns true, given the sender, are passed over: a state
// lists records the receiver mostly holds already.
func decodeState(b []byte, skip func(from, node string, s stamp) bool) (pushState, error) {
	d := decoder{b: b}
	if k := d.byte(); d.err == nil && k != kindState {
		return pushState{}, fmt.Errorf("tracker: message kind %d is not a state", k)
	}
	s := pushState{From: d.string()}
	var skipFromSender func(string, stamp) bool
	if skip != nil {
		skipFromSender = func(node string, st stamp) bool { return skip(s.From, node, st) }
	}
	n := d.count(4)
	for range n {
		if r, skipped := d.recordUnless(skipFromSender); !skipped {
			s.Records = append(s.Records, r)
		}
	}
	n = d.count(3)
	for range n {
		s.Digest = append(s.Digest, digestItem{Node: d.string(), Boot: d.uint(), Version: d.uint()})
	}
	if err := d.done(); err != nil {
		return pushState{}, err
	}
	if err := s.check(); err != nil {
		return pushState{}, err
	}
	return s, nil
}

// nodeMeta is what this package puts in memberlist's node meta.
type nodeMeta struct {
	Boot     uint64
	PrevName string
}

const nodeMetaVersion = 1

func encodeNodeMeta(m nodeMeta) []byte {
	e := encoder{}
	e.byte(nodeMetaVersion)
	e.uint(m.Boot)
	e.string(m.PrevName)
	return e.b
}

func decodeNodeMeta(b []byte) (nodeMeta, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != nodeMetaVersion {
		return nodeMeta{}, fmt.Errorf("tracker: node meta version %d unknown", v)
	}
	m := nodeMeta{Boot: d.uint(), PrevName: d.string()}
	if err := d.done(); err != nil {
		return nodeMeta{}, err
	}
	if len(m.PrevName) > MaxNameLen {
		return nodeMeta{}, fmt.Errorf("tracker: previous name is %d bytes, limit %d", len(m.PrevName), MaxNameLen)
	}
	return m, nil
}

// leaveMsg announces that a writer leaves gracefully. memberlist's own
// leave cannot be told from a crash in NotifyLeave (v0.7.0 passes the
// node's stale state), so the tracker gossips this first.
type leaveMsg struct {
	Node string
	Boot uint64
}

func encodeLeave(m leaveMsg) []byte {
	e := encoder{}
	e.byte(kindLeave)
	e.string(m.Node)
	e.uint(m.Boot)
	return e.b
}

func decodeLeave(b []byte) (leaveMsg, error) {
	d := decoder{b: b}
	if k := d.byte(); d.err == nil && k != kindLeave {
		return leaveMsg{}, fmt.Errorf("tracker: message kind %d is not a leave", k)
	}
	m := leaveMsg{Node: d.string(), Boot: d.uint()}
	if err := d.done(); err != nil {
		return leaveMsg{}, err
	}
	if err := validName("node name", m.Node); err != nil {
		return leaveMsg{}, err
	}
	return m, nil
}
