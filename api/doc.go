// Package api is mlserve's public Go client and the request and response
// types that the server and the client share, so a mismatch between the
// mlserve CLI and the server breaks the build instead of a user's request.
//
// A client talks to a running `mlserve serve`:
//
//	c, err := api.ClientFromEnvironment()
//	resp, err := c.Predict(ctx, &api.PredictRequest{Text: "This product is amazing!"})
//
// Errors the server answers with are *Error values carrying the server's
// RFC 9457 problem document.
package api
