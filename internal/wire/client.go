package wire

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the HTTP client an adapter uses when its caller
// gives none. Go's default transport keeps two idle connections per host,
// so with hundreds of calls in flight to one provider nearly every call
// would close its connection on return and the next would dial (and, for
// a real provider, shake hands over TLS) again. This transport keeps as
// many idle connections as the rate limiter may have calls in flight.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no limit across hosts
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// maxIdlePerHost matches llm.AutoCeiling, the most calls in flight to one
// provider (wire cannot import llm).
const maxIdlePerHost = 4096
