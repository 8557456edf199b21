package sdjoincmd

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpServer answers DNS queries on one UDP socket with a fixed set of
// readers, each reading a request into its own buffers, answering it and
// writing the reply: no goroutine or buffer per query. It answers what
// miekg's dns.Server with its DefaultMsgAcceptFunc answered (see
// udpReader.answer).
type udpServer struct {
	conn *net.UDPConn
	// pktinfo: the socket is bound to a wildcard address, so each reply
	// names the address its request was sent to as its source.
	pktinfo bool
	wg      sync.WaitGroup
}

// headerLen is the size of a DNS message header.
const headerLen = 12

// serveUDP answers z's queries on conn with readers goroutines until
// Close.
func serveUDP(conn *net.UDPConn, z *dnsZone, readers int) (*udpServer, error) {
	s := &udpServer{conn: conn, pktinfo: conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().IsUnspecified()}
	if s.pktinfo {
		// As miekg's server: either family may fail, not both.
		err6 := ipv6.NewPacketConn(conn).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		err4 := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		if err6 != nil && err4 != nil {
			return nil, err4
		}
	}
	for range max(readers, 1) {
		s.wg.Add(1)
		go s.read(newUDPReader(z))
	}
	return s, nil
}

// Close stops the readers: their reads return at once, the replies being
// written get up to a second. Then it closes the socket. Call it once.
func (s *udpServer) Close() {
	s.conn.SetReadDeadline(time.Unix(1, 0))
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	s.wg.Wait()
	s.conn.Close()
}

// read answers requests until the socket fails or closes.
func (s *udpServer) read(r *udpReader) {
	defer s.wg.Done()
	oob := r.oob
	if !s.pktinfo {
		oob = nil
	}
	for {
		n, oobn, _, from, err := s.conn.ReadMsgUDPAddrPort(r.buf, oob)
		if err != nil {
			return // closing, or the socket failed as miekg's server stopped
		}
		b := r.answer(r.buf[:n])
		if b == nil {
			continue
		}
		var src []byte
		if s.pktinfo {
			src = replySource(oob[:oobn])
		}
		s.conn.WriteMsgUDPAddrPort(b, src, from) // as miekg, a lost reply is the client's to retry
	}
}

// udpReader is one reader's state, reused for every request it answers.
type udpReader struct {
	z     *dnsZone
	buf   []byte // the request, up to maxUDPSize (more is cut, as miekg did)
	oob   []byte // its control messages (pktinfo)
	req   dns.Msg
	reply replyBuf
}

// oobSize fits the IPv4 or IPv6 destination and interface control message.
var oobSize = max(len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)),
	len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface)))

func newUDPReader(z *dnsZone) *udpReader {
	return &udpReader{z: z, buf: make([]byte, maxUDPSize), oob: make([]byte, oobSize)}
}

// answer returns the reply to the UDP packet pkt (in r.reply.out), or
// nil for none, as miekg's server answered with its
// dns.DefaultMsgAcceptFunc: no reply to a packet shorter than a header
// or to a response; NOTIMP to an opcode other than QUERY and NOTIFY;
// FORMERR, with the header's flags and no question, to other section
// counts than it accepts, and FORMERR with what did unpack to a request
// that does not unpack; otherwise the zone's answer.
func (r *udpReader) answer(pkt []byte) []byte {
	if len(pkt) < headerLen {
		return nil
	}
	h := dns.Header{
		Id: binary.BigEndian.Uint16(pkt), Bits: binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]), Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]), Arcount: binary.BigEndian.Uint16(pkt[10:]),
	}
	switch action := dns.DefaultMsgAcceptFunc(h); action {
	case dns.MsgIgnore:
		return nil
	case dns.MsgAccept:
		if r.req.Unpack(pkt) != nil {
			return r.reject(dns.MsgReject)
		}
		return r.z.respondWith(&r.reply, &r.req, false)
	default:
		r.req.Unpack(pkt[:headerLen]) // the header alone: cannot fail
		return r.reject(action)
	}
}

// reject returns r.req turned into its FORMERR or NOTIMP reply, packed,
// as miekg's server built it.
func (r *udpReader) reject(action dns.MsgAcceptAction) []byte {
	m := &r.req
	opcode := m.Opcode
	m.SetRcodeFormatError(m)
	m.Zero = false
	if action == dns.MsgRejectNotImplemented {
		m.Opcode = opcode
		m.Rcode = dns.RcodeNotImplemented
	}
	m.Answer, m.Ns, m.Extra = nil, nil, nil
	b, err := m.PackBuffer(r.reply.out)
	if err != nil {
		return nil
	}
	r.reply.out = b[:cap(b)]
	return b
}

// replySource returns the control message that makes a reply's source
// the destination address its request's control messages oob name (nil
// when they name none), as miekg's server did.
func replySource(oob []byte) []byte {
	var dst net.IP
	cm6 := new(ipv6.ControlMessage)
	if cm6.Parse(oob) == nil && cm6.Dst != nil {
		dst = cm6.Dst
	} else if cm4 := new(ipv4.ControlMessage); cm4.Parse(oob) == nil && cm4.Dst != nil {
		dst = cm4.Dst
	}
	switch {
	case dst == nil:
		return nil
	case dst.To4() == nil:
		return (&ipv6.ControlMessage{Src: dst}).Marshal()
	default:
		return (&ipv4.ControlMessage{Src: dst}).Marshal()
	}
}
