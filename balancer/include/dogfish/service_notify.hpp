// Telling systemd how the daemon is (dogfish.service is Type=notify): READY once the program is
// attached and the configuration applied, RELOADING around a reload, STOPPING on the way out.
// Outside systemd (no NOTIFY_SOCKET) each is nothing.
#pragma once

#include <string_view>

namespace dogfish {

void notify_ready(std::string_view status);
void notify_reloading();
void notify_stopping();

}  // namespace dogfish
