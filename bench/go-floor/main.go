// The bench's Go floor (stack G): an ext_proc + access-log server in Go (grpc-go) that does no
// work of its own, the Go twin of bench/floor-extproc.ts. Messages are never decoded (a
// pass-through codec hands the handlers the raw bytes, which they ignore), and the two answers
// are the bytes bench/floor-answers.ts encodes once for the grpc-js floor too, read from files at
// start: the router's headers message gets the first, its body message the second, and the
// stream ends after the body answer. The access-log stream is read to its end and answered
// empty. Envoy health-checks /readyz on the HTTP port. Built and spawned by
// bench/go-floor.ts:
//
//	go-floor --grpc-port P --http-port Q --headers-answer FILE --body-answer FILE
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"google.golang.org/grpc"
)

// rawCodec passes messages through as bytes: received ones are not decoded, sent ones are
// already encoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot send %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(_ []byte, _ any) error { return nil }

func (rawCodec) Name() string { return "proto" }

type floor struct {
	headersAnswer []byte
	bodyAnswer    []byte
}

// process answers the router's two messages (request headers, then the buffered body) and ends
// the stream after the second, as switchyard does for a request its first pool serves.
func (f *floor) process(_ any, stream grpc.ServerStream) error {
	var in []byte
	for seen := 0; ; {
		if err := stream.RecvMsg(&in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		seen++
		if seen == 1 {
			if err := stream.SendMsg(&f.headersAnswer); err != nil {
				return err
			}
			continue
		}
		return stream.SendMsg(&f.bodyAnswer)
	}
}

// streamAccessLogs reads Envoy's access-log entries to the end of the stream and answers empty.
func streamAccessLogs(_ any, stream grpc.ServerStream) error {
	var in []byte
	for {
		if err := stream.RecvMsg(&in); err != nil {
			if errors.Is(err, io.EOF) {
				empty := []byte{}
				return stream.SendMsg(&empty)
			}
			return err
		}
	}
}

func serviceDescs(f *floor) []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{
		{
			ServiceName: "envoy.service.ext_proc.v3.ExternalProcessor",
			HandlerType: (*any)(nil),
			Streams: []grpc.StreamDesc{
				{StreamName: "Process", Handler: f.process, ServerStreams: true, ClientStreams: true},
			},
		},
		{
			ServiceName: "envoy.service.accesslog.v3.AccessLogService",
			HandlerType: (*any)(nil),
			Streams: []grpc.StreamDesc{
				{StreamName: "StreamAccessLogs", Handler: streamAccessLogs, ClientStreams: true},
			},
		},
	}
}

func main() {
	grpcPort := flag.Int("grpc-port", 0, "ext_proc and access-log gRPC port (127.0.0.1)")
	httpPort := flag.Int("http-port", 0, "HTTP port answering /readyz (127.0.0.1)")
	headersFile := flag.String("headers-answer", "", "file holding the encoded answer to request headers")
	bodyFile := flag.String("body-answer", "", "file holding the encoded answer to the request body")
	flag.Parse()
	if *grpcPort == 0 || *httpPort == 0 || *headersFile == "" || *bodyFile == "" {
		log.Fatal("usage: go-floor --grpc-port P --http-port Q --headers-answer FILE --body-answer FILE")
	}
	f := &floor{}
	var err error
	if f.headersAnswer, err = os.ReadFile(*headersFile); err != nil {
		log.Fatal(err)
	}
	if f.bodyAnswer, err = os.ReadFile(*bodyFile); err != nil {
		log.Fatal(err)
	}

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *grpcPort))
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(512*1024*1024))
	for _, d := range serviceDescs(f) {
		server.RegisterService(d, nil)
	}
	go func() {
		log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *httpPort), http.HandlerFunc(
			func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })))
	}()
	log.Fatal(server.Serve(lis))
}
