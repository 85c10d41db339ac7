// SPDX-License-Identifier: Apache-2.0
#pragma once
// A read-only list that copies share: copying a plan copies a pointer per backend instead of
// every server, so the plan rebuilt at each change (one backend changed among thousands) costs
// little time and leaves no churn of small blocks behind. Reads look like a const std::vector;
// writing goes through edit(), which copies the list first if another plan shares it.

#include <initializer_list>
#include <memory>
#include <vector>

namespace dstack::sherlock {

template <class T>
class SharedList {
 public:
  using value_type = T;
  using const_iterator = typename std::vector<T>::const_iterator;

  SharedList() = default;
  SharedList(std::vector<T> items)  // NOLINT(google-explicit-constructor): reads as a vector
      : items_(std::make_shared<std::vector<T>>(std::move(items))) {}
  SharedList(std::initializer_list<T> items) : SharedList(std::vector<T>(items)) {}

  const_iterator begin() const { return list().begin(); }
  const_iterator end() const { return list().end(); }
  std::size_t size() const { return list().size(); }
  bool empty() const { return list().empty(); }
  const T& operator[](std::size_t i) const { return list()[i]; }
  const T& at(std::size_t i) const { return list().at(i); }
  const std::vector<T>& list() const { return items_ ? *items_ : empty_list(); }

  // The list to change, unshared first.
  std::vector<T>& edit() {
    if (!items_)
      items_ = std::make_shared<std::vector<T>>();
    else if (items_.use_count() > 1)
      items_ = std::make_shared<std::vector<T>>(*items_);
    return *items_;
  }

  // The same list object, so the same contents without looking at them.
  bool shares_with(const SharedList& other) const { return items_ == other.items_; }

  bool operator==(const SharedList& other) const {
    return items_ == other.items_ || list() == other.list();
  }

 private:
  static const std::vector<T>& empty_list() {
    static const std::vector<T> none;
    return none;
  }
  std::shared_ptr<std::vector<T>> items_;
};

}  // namespace dstack::sherlock
