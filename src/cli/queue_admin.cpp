#include "cli/queue_admin.hpp"

#include "cli/process.hpp"

#include <dirent.h>
#include <unistd.h>

#include "log/log.hpp"
#include "queue/id.hpp"
#include "queue/queue_fs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace relay::cli {
using queue::Area;

namespace {

// Where ID is now, trying the areas in order.
bool locate(const queue::FsQueue &q, const std::string &id, Area &where) {
    for (Area a : {Area::Queue, Area::Hold, Area::Corrupt}) {
        if (::access(q.path(a, id).c_str(), F_OK) == 0) {
            where = a;
            return true;
        }
    }
    return false;
}

}  // namespace

int queue_admin(const config::Config &cfg, const std::string &action,
                const std::vector<std::string> &ids_in, std::ostream &out) {
    if (action != "show" && action != "check" && !drop_to_spool_owner(cfg.queue.directory))
        throw Fatal(Exit::OsErr, "cannot switch to the owner of " + cfg.queue.directory);
    queue::FsQueue q(cfg.queue.directory);
    if (action == "check") {
        unsigned bad = 0, good = 0;
        for (Area a : {Area::Queue, Area::Hold, Area::Corrupt}) {
            for (auto &id : q.list(a)) {
                auto env = q.load(id, a);
                auto msg = q.open_message(id, a);
                if (!env || !msg || a == Area::Corrupt) {
                    ++bad;
                    out << id << ": " << (a == Area::Corrupt ? "in corrupt/: " : "")
                        << (!env ? env.error().message : !msg ? msg.error().message : "quarantined")
                        << "\n";
                } else {
                    ++good;
                }
            }
        }
        out << good << " good, " << bad << " damaged entr" << (bad == 1 ? "y" : "ies") << "\n";
        return bad ? to_sysexit(Exit::DataErr) : 0;
    }

    std::vector<std::string> ids = ids_in;
    const std::string maildrop = cfg.queue.directory + "/maildrop/";
    if (ids.size() == 1 && ids[0] == "ALL" && action == "delete") {
        ids.clear();
        for (Area a : {Area::Queue, Area::Hold, Area::Corrupt})
            for (auto &id : q.list(a)) ids.push_back(id);
        if (DIR *d = opendir(maildrop.c_str())) {
            while (auto *e = readdir(d))
                if (queue::is_valid_id(e->d_name)) ids.emplace_back(e->d_name);
            closedir(d);
        }
    }
    if (ids.empty()) throw Fatal(Exit::Usage, "queue " + action + ": no queue id given");
    int status = 0;
    for (auto &id : ids) {
        if (!queue::is_valid_id(id)) {
            log::error(id + ": not a queue id");
            status = to_sysexit(Exit::Usage);
            continue;
        }
        Area where;
        if (action == "delete" && ::unlink((maildrop + id).c_str()) == 0) {
            // Not picked up yet: the submission file is the whole message.
            log::info(id + ": removed");
            continue;
        }
        if (!locate(q, id, where)) {
            log::error(id + ": no such queue entry");
            status = to_sysexit(Exit::NoInput);
            continue;
        }
        Result<void> r;
        if (action == "delete") {
            r = q.remove(id, where);
            if (r) log::info(id + ": removed");
        } else if (action == "hold") {
            if (where == Area::Hold) continue;
            r = q.move(id, where, Area::Hold);
            if (r) log::info(id + ": placed on hold");
        } else if (action == "release") {
            if (where != Area::Hold) continue;
            r = q.move(id, Area::Hold, Area::Queue);
            if (r) log::info(id + ": released from hold");
        } else if (action == "requeue") {
            auto env = q.load(id, where);
            if (!env) {
                r = env.error();
            } else {
                env->next_attempt = 0;
                r = q.update(*env, where);
                if (r && where == Area::Hold) r = q.move(id, Area::Hold, Area::Queue);
                if (r) log::info(id + ": requeued");
            }
        } else if (action == "show") {
            auto env = q.load(id, where);
            if (!env) {
                r = env.error();
            } else {
                out << "*** ENVELOPE RECORDS " << id << " ***\n" << queue::serialize(*env);
                out << "*** MESSAGE CONTENTS " << id << " ***\n";
                auto fd = q.open_message(id, where);
                if (!fd) {
                    r = fd.error();
                } else {
                    char buf[65536];
                    ssize_t n;
                    while ((n = ::read(fd->get(), buf, sizeof buf)) > 0)
                        out.write(buf, n);
                    out << "*** END OF MESSAGE " << id << " ***\n";
                }
            }
        } else {
            throw Fatal(Exit::Usage, "queue: unknown action \"" + action +
                                         "\" (show, delete, hold, release, requeue, check)");
        }
        if (!r) {
            log::error(id + ": " + r.error().message);
            status = to_sysexit(exit_for_errno(r.error().sys_errno));
        }
    }
    return status;
}

}  // namespace relay::cli
