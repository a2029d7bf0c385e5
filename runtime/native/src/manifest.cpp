// The bundle manifest read with nlohmann/json and checked against the contract qualedge.bundle defines
// (docs/bundle.schema.json): format, ABI, kind, required fields and their types, model references, and file paths that
// must stay inside the bundle folder.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qe {

const ModelInfo &Bundle::model(const std::string &name) const {
    for (const auto &m : models)
        if (m.name == name) return m;
    throw Error(QE_ERR_BUNDLE, folder + "/manifest.json: no model named '" + name + "'; re-export the bundle");
}

namespace {

[[noreturn]] void bad(const std::string &mpath, const std::string &field, const std::string &what) {
    throw Error(QE_ERR_BUNDLE, mpath + ": " + field + " " + what + ". Re-export the bundle with 'qualedge export'.");
}

const json &need(const json &obj, const char *key, const std::string &where, const std::string &mpath) {
    auto it = obj.find(key);
    if (it == obj.end()) bad(mpath, where + key, "is missing");
    return *it;
}

template <class T>
T get(const json &obj, const char *key, const std::string &where, const std::string &mpath) {
    const json &v = need(obj, key, where, mpath);
    try {
        return v.get<T>();
    } catch (const json::exception &) {
        bad(mpath, where + key, "has the wrong type (" + std::string(v.type_name()) + ")");
    }
}

std::string opt_string(const json &obj, const char *key, const std::string &where, const std::string &mpath) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return "";
    if (!it->is_string()) bad(mpath, where + key, "must be a string or null");
    return it->get<std::string>();
}

// A manifest path must name a file inside the bundle (no absolute paths, no "..", no links leading out).
std::string inside(const fs::path &folder, const std::string &rel, const std::string &field, const std::string &mpath) {
    fs::path p(rel);
    if (rel.empty() || p.is_absolute()) bad(mpath, field, "= '" + rel + "' must be a relative path inside the bundle");
    for (const auto &part : p)
        if (part == "..") bad(mpath, field, "= '" + rel + "' leaves the bundle folder");
    std::error_code ec;
    fs::path full = fs::weakly_canonical(folder / p, ec);
    fs::path root = fs::weakly_canonical(folder, ec);
    auto r = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
    if (ec || r.first != root.end()) bad(mpath, field, "= '" + rel + "' resolves outside the bundle folder");
    if (!fs::is_regular_file(full)) bad(mpath, field, "= '" + rel + "' is not a file of the bundle");
    return full.string();
}

}  // namespace

Bundle load_bundle(const std::string &folder_in, uint32_t abi_version) {
    fs::path folder(folder_in);
    std::string mpath = (folder / "manifest.json").string();
    std::ifstream f(folder / "manifest.json");
    if (!f) throw Error(QE_ERR_BUNDLE, mpath + ": not found or not readable; is " + folder_in + " a qualedge bundle folder (qualedge export writes them)?");
    json j;
    try {
        j = json::parse(f);
    } catch (const json::parse_error &e) {
        throw Error(QE_ERR_BUNDLE, mpath + ": not valid JSON (" + e.what() + "). Re-export the bundle.");
    }
    if (!j.is_object()) bad(mpath, "the manifest", "must be a JSON object");
    if (get<std::string>(j, "format", "", mpath) != "qualedge-bundle") bad(mpath, "format", "is not 'qualedge-bundle'");
    auto abi = get<int64_t>(j, "abi_version", "", mpath);
    if (abi != (int64_t)abi_version)
        throw Error(QE_ERR_BUNDLE, mpath + ": abi_version " + std::to_string(abi) + ", this library reads ABI " +
                                       std::to_string(abi_version) + ". Re-export the bundle with this qualedge version.");
    Bundle b;
    b.folder = folder_in;
    const json &pol = need(j, "policy", "", mpath);
    if (!pol.is_object()) bad(mpath, "policy", "must be an object");
    if (pol.contains("kind")) {
        b.kind = get<std::string>(pol, "kind", "policy.", mpath);
        if (b.kind != "sr" && b.kind != "restoration") bad(mpath, "policy.kind", "= '" + b.kind + "' is neither 'sr' nor 'restoration'");
    }
    const json &models = need(j, "models", "", mpath);
    if (!models.is_array() || models.empty()) bad(mpath, "models", "must be a non-empty list");
    for (size_t i = 0; i < models.size(); i++) {
        const json &m = models[i];
        std::string w = "models[" + std::to_string(i) + "].";
        if (!m.is_object()) bad(mpath, w.substr(0, w.size() - 1), "must be an object");
        ModelInfo mi;
        mi.name = get<std::string>(m, "name", w, mpath);
        mi.role = get<std::string>(m, "role", w, mpath);
        mi.arch_id = get<std::string>(m, "arch_id", w, mpath);
        const json &d = need(m, "descriptor", w, mpath);
        std::string wd = w + "descriptor.";
        mi.in_channels = get<int>(d, "in_channels", wd, mpath);
        mi.out_channels = get<int>(d, "out_channels", wd, mpath);
        if (mi.role == "sr") {  // the tile plan comes from the SR models' descriptors (quality/router models take any tile)
            mi.scale = get<int>(d, "scale", wd, mpath);
            const json &sz = need(d, "size", wd, mpath);
            mi.size.minimum = get<int>(sz, "minimum", wd + "size.", mpath);
            mi.size.multiple_of = get<int>(sz, "multiple_of", wd + "size.", mpath);
            if (sz.contains("fixed_tile") && !sz["fixed_tile"].is_null()) mi.size.fixed_tile = get<int>(sz, "fixed_tile", wd + "size.", mpath);
            auto ta = get<std::vector<int>>(d, "tile_advice", wd, mpath);
            if (ta.size() != 2 || ta[0] < 1) bad(mpath, wd + "tile_advice", "must be [tile, overlap] with tile >= 1");
            mi.tile_advice = ta[0];
            if (mi.scale < 1 || mi.size.minimum < 1 || mi.size.multiple_of < 1) bad(mpath, wd + "size", "must be positive");
        }
        const json &forms = need(m, "forms", w, mpath);
        if (!forms.is_array()) bad(mpath, w + "forms", "must be a list");
        for (size_t k = 0; k < forms.size(); k++) {
            std::string wf = w + "forms[" + std::to_string(k) + "].";
            std::string path = get<std::string>(forms[k], "path", wf, mpath);
            std::string fmt = get<std::string>(forms[k], "format", wf, mpath);
            std::string prec = get<std::string>(forms[k], "precision", wf, mpath);
            if (fmt == "onnx" && prec == "fp32") mi.onnx_fp32 = inside(folder, path, wf + "path", mpath);
            if (fmt == "onnx" && prec == "int8") mi.onnx_int8 = inside(folder, path, wf + "path", mpath);
        }
        b.models.push_back(std::move(mi));
    }
    if (b.kind == "restoration") {
        RestorationPolicy &r = b.restoration;
        const std::string w = "policy.";
        r.quality_model = get<std::string>(pol, "quality_model", w, mpath);
        r.restore = get<std::string>(pol, "restore", w, mpath);
        r.restore_step = get<std::string>(pol, "restore_step", w, mpath);
        r.steps = get<int>(pol, "steps", w, mpath);
        r.coefficients = get<std::vector<std::vector<double>>>(pol, "coefficients", w, mpath);
        if (r.steps < 1 || (int)r.coefficients.size() != r.steps) bad(mpath, "policy.coefficients", "must hold one row per step (steps = " + std::to_string(r.steps) + ")");
        for (const auto &c : r.coefficients)
            if (c.size() != 5) bad(mpath, "policy.coefficients", "rows must be [t, sqrt(ab_t), sqrt(1 - ab_t), sqrt(ab_prev), sqrt(1 - ab_prev)]");
        r.tile = get<int>(pol, "tile", w, mpath);
        r.overlap = get<int>(pol, "overlap", w, mpath);
        if (r.tile < 16 || r.tile % 16 || r.overlap < 0) bad(mpath, "policy.tile", "must be a positive multiple of 16 with overlap >= 0");
        if (pol.contains("seed")) r.seed = get<uint32_t>(pol, "seed", w, mpath);
        if (pol.contains("noise_scale")) r.noise_scale = get<double>(pol, "noise_scale", w, mpath);
        if (pol.contains("precision")) r.precision = get<std::string>(pol, "precision", w, mpath);
        r.prompt_mode = opt_string(pol, "prompt_mode", w, mpath);
        if (pol.contains("sampler") && pol["sampler"].is_object() && pol["sampler"].contains("objective"))
            r.objective = get<std::string>(pol["sampler"], "objective", "policy.sampler.", mpath);
        for (const std::string *ref : {&r.quality_model, &r.restore, &r.restore_step}) b.model(*ref);
        return b;
    }
    SRPolicy &p = b.policy;
    p.quality_model = opt_string(pol, "quality_model", "policy.", mpath);
    p.compact = opt_string(pol, "compact", "policy.", mpath);
    p.heavy = opt_string(pol, "heavy", "policy.", mpath);
    if (pol.contains("router")) p.router = get<std::string>(pol, "router", "policy.", mpath);
    if (pol.contains("heavy_fraction") && !pol["heavy_fraction"].is_null()) p.heavy_fraction = get<double>(pol, "heavy_fraction", "policy.", mpath);
    if (pol.contains("seed")) p.seed = get<uint32_t>(pol, "seed", "policy.", mpath);
    if (pol.contains("threshold")) p.threshold = get<double>(pol, "threshold", "policy.", mpath);
    if (pol.contains("tile") && !pol["tile"].is_null()) p.tile = get<int>(pol, "tile", "policy.", mpath);
    if (pol.contains("overlap")) p.overlap = get<int>(pol, "overlap", "policy.", mpath);
    if (pol.contains("precision")) p.precision = get<std::string>(pol, "precision", "policy.", mpath);
    for (const std::string *ref : {&p.quality_model, &p.compact, &p.heavy})
        if (!ref->empty()) b.model(*ref);
    return b;
}

}  // namespace qe
