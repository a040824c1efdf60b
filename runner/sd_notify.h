// The systemd notification protocol, written by hand (no libsystemd): a unit of Type=notify
// (packaging/systemd/cgfw@.service) counts as started when its main process sends READY=1 to
// $NOTIFY_SOCKET, and `systemctl start` returns only then. So cgfw says READY=1 once it polices,
// and a unit's ExecStartPre= that starts it can rely on the policing being in place.
#pragma once

#include <string_view>

#include "common/result.h"

namespace cgfw::runner {

// Sends `state` ("READY=1\nSTATUS=policing /sys/fs/cgroup/...", one assignment per line) as one
// datagram to $NOTIFY_SOCKET: a path, or an abstract socket when it starts with '@'. Succeeds
// without doing anything when NOTIFY_SOCKET is unset or empty (cgfw not started by systemd); an
// error names the socket and the reason otherwise. Call it from the main process: the unit's
// NotifyAccess=main ignores messages from any other.
Status notify_systemd(std::string_view state);

}  // namespace cgfw::runner
