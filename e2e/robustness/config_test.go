package robustness

import "strings"

// suiteIni is the configuration every test serves (a test may append
// sections): a urlmap of small pipelines, each in front of an app that
// shows what reached it, and a server with short, CI-sized timeouts.
//
//	/echo      request_id faultwrap request_log metrics echo (framing, F2)
//	/limited   request_id faultwrap sizelimit(1000) echo    (B1-B3)
//	/boom      cors request_id faultwrap boom               (P1)
//	/late      request_id faultwrap boom(when=body)         (P2)
//	/bare-boom cors boom, no fault filter: Root answers     (P3)
//	/auth      http_proxy_to_wsgi request_id faultwrap sizelimit noauth
//	           keystonecontext echo                         (H1, A1)
//	/metrics   the Prometheus metrics of the process        (soak)
//	/static    the static app on www/ (big.bin, 1 MiB, for slow reads)
const suiteIni = `
[composite:main]
use = egg:Paste#urlmap
/echo = echo_pipe
/limited = limited_pipe
/boom = boom_pipe
/late = late_pipe
/bare-boom = bare_boom_pipe
/auth = auth_pipe
/metrics = metrics
/static = static

[pipeline:echo_pipe]
pipeline = request_id faultwrap request_log metrics_filter echo

[filter:metrics_filter]
use = egg:vietstack#metrics

[pipeline:limited_pipe]
pipeline = request_id faultwrap sizelimit echo

[pipeline:boom_pipe]
pipeline = cors request_id faultwrap boom

[pipeline:late_pipe]
pipeline = request_id faultwrap boom_late

[pipeline:bare_boom_pipe]
pipeline = cors boom

[pipeline:auth_pipe]
pipeline = http_proxy_to_wsgi request_id faultwrap sizelimit noauth keystonecontext echo

[filter:request_id]
use = egg:oslo.middleware#request_id

[filter:faultwrap]
use = egg:vietstack#faultwrap

[filter:request_log]
use = egg:vietstack#request_log
destination = %(here)s/access.log

[filter:sizelimit]
use = egg:oslo.middleware#sizelimit
max_request_body_size = 1000

[filter:cors]
use = egg:oslo.middleware#cors
allowed_origin = https://dashboard.example.org

[filter:http_proxy_to_wsgi]
use = egg:oslo.middleware#http_proxy_to_wsgi

[filter:noauth]
use = egg:vietstack#noauth
admin_user =

[filter:keystonecontext]
use = egg:vietstack#keystonecontext

[app:echo]
use = egg:vietstack#echo
max_body_size = 1MiB

[app:boom]
use = egg:vietstack#boom
message = secret-token-123 at /srv/internal/db.go

[app:boom_late]
use = egg:vietstack#boom
when = body
message = secret-token-456

[app:metrics]
use = egg:vietstack#metrics_app

[app:static]
use = egg:vietstack#static
document_root = %(here)s/www

[server:main]
use = egg:vietstack#http
host = 127.0.0.1
port = 0
read_header_timeout = 2s
read_timeout = 5s
write_timeout = 5s
idle_timeout = 10s
max_header_bytes = 16KiB
`

// suiteFiles are the files suiteIni names.
var suiteFiles = map[string]string{
	"www/index.html": "<p>index</p>\n",
	"www/a.txt":      "static a\n",
	"www/big.bin":    strings.Repeat("0123456789abcdef", 1<<20/16),
}
