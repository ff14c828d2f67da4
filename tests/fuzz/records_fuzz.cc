// Fuzzes the decoding of index records from raw LMDB value bytes (damage on
// disk): the input is decoded as each record type. Decoding never throws;
// what fails says why on one line; what decodes encodes again to bytes that
// decode to the same record, and encoding that record gives the same bytes.
#include "index/records.h"
#include "tests/fuzz/check.h"

using namespace modelfs;

namespace {

template <class T>
void RoundTrip(std::string_view bytes) {
  T r;
  Status st = Decode(bytes, &r);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::kCorrupt, bytes);
    FUZZ_CHECK(CheckEntryPath(st.message()).ok(), bytes);
    return;
  }
  std::string encoded = Encode(r);
  T again;
  FUZZ_CHECK(Decode(encoded, &again).ok(), bytes);
  FUZZ_CHECK(again == r, bytes);
  FUZZ_CHECK(Encode(again) == encoded, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = fuzz::Text(data, size);
  RoundTrip<Model>(bytes);
  RoundTrip<Version>(bytes);
  RoundTrip<Entry>(bytes);
  RoundTrip<Alias>(bytes);
  RoundTrip<AuditRecord>(bytes);
  return 0;
}
