// Package api holds docsearch's external contract and, later, its edge.
//
// The contract is the protobuf definition in docsearch/v1/docsearch.proto
// (package docsearch.v1) with the Go code generated from it beside it
// (package docsearchv1). The .proto file is the source of truth: the .pb.go
// files are regenerated from it with `make proto` and never edited by hand.
//
// The gRPC server that implements SearchService will live here too. It is the
// only place where errors become gRPC statuses: the packages below it (parser,
// checker, compiler, store) return plain Go errors and sentinels, and the
// server maps them once, at the edge (a filter error to InvalidArgument with
// its position, context.Canceled to Canceled, and so on).
//
// Not for: query parsing, planning or storage; those have packages of their
// own and know nothing about protobuf.
package api
