package limit

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GRPCStatus returns RESOURCE_EXHAUSTED with a QuotaFailure naming the
// caller and limit and, over the rate, a RetryInfo saying when to retry.
// status.FromError and status.Code find it, also through wrapping.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(codes.ResourceExhausted, e.Error())
	details := []protoadapt.MessageV1{&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
		Subject:     "caller:" + e.Caller,
		Description: string(e.Reason) + " limit",
	}}}}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	// WithDetails fails only on a status of code OK.
	if with, err := st.WithDetails(details...); err == nil {
		st = with
	}
	return st
}
