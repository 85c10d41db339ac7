// SPDX-License-Identifier: Apache-2.0
#include "sherlock/directory_view.hpp"

#include <algorithm>

namespace dstack::sherlock {

namespace {

template <class T, class Match>
typename std::vector<T>::iterator find_in(std::vector<T>& items, Match match) {
  return std::find_if(items.begin(), items.end(), match);
}

// Instances by id and routes by consumer, so equal views compare equal and plans are stable.
void sort_view(ServiceView& v) {
  std::sort(v.instances.begin(), v.instances.end(),
            [](const model::Instance& a, const model::Instance& b) { return a.id < b.id; });
  std::sort(v.routes.begin(), v.routes.end(),
            [](const model::Route& a, const model::Route& b) { return a.consumer < b.consumer; });
}

}  // namespace

bool DirectoryView::put_instance(const model::Instance& instance) {
  held_.erase({instance.service, instance.id});
  auto& list = services_[instance.service].instances;
  auto it = find_in(list, [&](const model::Instance& i) { return i.id == instance.id; });
  if (it == list.end()) {
    list.push_back(instance);
    sort_view(services_[instance.service]);
    return true;
  }
  if (*it == instance) return false;
  *it = instance;
  return true;
}

bool DirectoryView::remove_instance(const std::string& service, const std::string& id) {
  auto s = services_.find(service);
  if (s == services_.end()) return false;
  auto& list = s->second.instances;
  auto it = find_in(list, [&](const model::Instance& i) { return i.id == id; });
  if (it == list.end()) return false;
  if (!synced_) {
    held_.insert({service, id});  // not synced: no removal (docs/sherlock.md#fail-static)
    return false;
  }
  list.erase(it);
  erase_if_empty(s);
  return true;
}

bool DirectoryView::put_route(const model::Route& route) {
  auto& list = services_[route.service].routes;
  auto it = find_in(list, [&](const model::Route& r) { return r.consumer == route.consumer; });
  if (it == list.end()) {
    list.push_back(route);
    sort_view(services_[route.service]);
    return true;
  }
  if (*it == route) return false;
  *it = route;
  return true;
}

bool DirectoryView::remove_route(const std::string& service, const std::string& consumer) {
  auto s = services_.find(service);
  if (s == services_.end()) return false;
  auto& list = s->second.routes;
  auto it = find_in(list, [&](const model::Route& r) { return r.consumer == consumer; });
  if (it == list.end()) return false;
  list.erase(it);
  erase_if_empty(s);
  return true;
}

bool DirectoryView::put_policy(const model::TrafficPolicy& policy) {
  auto& slot = services_[policy.service].policy;
  if (slot == policy) return false;
  slot = policy;
  return true;
}

bool DirectoryView::remove_policy(const std::string& service) {
  auto s = services_.find(service);
  if (s == services_.end() || !s->second.policy) return false;
  s->second.policy.reset();
  erase_if_empty(s);
  return true;
}

void DirectoryView::erase_if_empty(std::map<std::string, ServiceView>::iterator it) {
  const auto& v = it->second;
  if (v.instances.empty() && v.routes.empty() && !v.policy) services_.erase(it);
}

std::set<std::string> DirectoryView::load(const model::Snapshot& snapshot) {
  std::map<std::string, ServiceView> next;
  for (const auto& i : snapshot.instances) next[i.service].instances.push_back(i);
  for (const auto& r : snapshot.routes) next[r.service].routes.push_back(r);
  for (const auto& p : snapshot.policies) next[p.service].policy = p;

  std::set<std::pair<std::string, std::string>> held;
  if (!snapshot.synced) {
    for (const auto& [service, view] : services_) {
      for (const auto& i : view.instances) {
        auto& list = next[service].instances;
        bool present = std::any_of(list.begin(), list.end(),
                                   [&](const model::Instance& n) { return n.id == i.id; });
        if (present) continue;
        list.push_back(i);
        held.insert({service, i.id});
      }
    }
  }

  for (auto& [service, view] : next) {
    sort_view(view);
    // With thousands of services of a few instances each, the spare capacity that growth by
    // doubling leaves is a large part of the view. (Not after single events: that would copy a
    // big service's list at every new instance.)
    view.instances.shrink_to_fit();
    view.routes.shrink_to_fit();
  }

  std::set<std::string> changed;
  for (const auto& [service, view] : services_) {
    auto n = next.find(service);
    if (n == next.end() || !(n->second.instances == view.instances) ||
        !(n->second.routes == view.routes) || n->second.policy != view.policy)
      changed.insert(service);
  }
  for (const auto& [service, view] : next)
    if (services_.count(service) == 0) changed.insert(service);

  services_ = std::move(next);
  held_ = std::move(held);
  revision_ = snapshot.revision;
  epoch_ = snapshot.epoch;
  synced_ = snapshot.synced;
  return changed;
}

std::optional<std::string> DirectoryView::apply(const model::Event& e) {
  revision_ = std::max(revision_, e.revision);
  bool changed = false;
  switch (e.type) {
    case model::Event::Type::instance_put:
      changed = put_instance(e.instance);
      break;
    case model::Event::Type::instance_delete:
      changed = remove_instance(e.service, e.id);
      break;
    case model::Event::Type::route_put:
      changed = put_route(e.route);
      break;
    case model::Event::Type::route_delete:
      changed = remove_route(e.service, e.consumer);
      break;
    case model::Event::Type::policy_put:
      changed = put_policy(e.policy);
      break;
    case model::Event::Type::policy_delete:
      changed = remove_policy(e.service);
      break;
  }
  if (!changed) return std::nullopt;
  return e.service;
}

void DirectoryView::seen(std::uint64_t revision) {
  revision_ = std::max(revision_, revision);
}

model::Snapshot DirectoryView::to_snapshot() const {
  model::Snapshot s;
  s.revision = revision_;
  s.epoch = epoch_;
  s.synced = synced_;
  for (const auto& [service, view] : services_) {
    s.instances.insert(s.instances.end(), view.instances.begin(), view.instances.end());
    s.routes.insert(s.routes.end(), view.routes.begin(), view.routes.end());
    if (view.policy) s.policies.push_back(*view.policy);
  }
  return s;
}

}  // namespace dstack::sherlock
