#include "engine.hpp"

#include <cstdlib>

#include <openvino/openvino.hpp>

#include "common.hpp"

namespace qe {

struct EngineImpl {
    ov::CompiledModel compiled;
};

namespace {
ov::Core &core() {
    static ov::Core c;  // thread-safe static init; ov::Core is safe to share
    return c;
}
}  // namespace

// Where compiled graphs are cached (OpenVINO's model cache: a cold start then skips graph compilation), following
// qualedge.paths.cache_dir(): $QUALEDGE_CACHE, else $XDG_CACHE_HOME/qualedge, else $HOME/.cache/qualedge; with none of
// them set (an empty environment) nothing is cached.
static std::string model_cache_dir() {
    if (const char *q = std::getenv("QUALEDGE_CACHE"); q && *q) return std::string(q) + "/openvino";
    if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/qualedge/openvino";
    if (const char *h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/qualedge/openvino";
    return "";
}

Engine::Engine(const std::string &onnx_path, const std::string &name, const std::string &precision, int threads, int inputs)
    : impl_(std::make_unique<EngineImpl>()), name_(name), precision_(precision) {
    if (precision != "fp32" && precision != "bf16" && precision != "int8")
        throw Error(QE_ERR_INVALID_ARGUMENT, "precision '" + precision + "': the native runtime runs fp32, bf16 or int8 (OpenVINO CPU)");
    // int8: the QDQ graph's convolutions run on int8 kernels; what stays float runs in fp32
    ov::AnyMap cfg{ov::hint::inference_precision(precision == "bf16" ? ov::element::bf16 : ov::element::f32),
                   ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (threads > 0) cfg.emplace(ov::inference_num_threads.name(), threads);
    auto compile = [&](const ov::AnyMap &c) {
        // from the path, so that a cached graph is not even parsed; a graph exported with static shapes is made
        // dynamic in batch and size first (tiles vary with the image)
        ov::CompiledModel cm = core().compile_model(onnx_path, "CPU", c);
        if ((int)cm.inputs().size() != inputs)
            throw Error(QE_ERR_BUNDLE, "model " + name + " (" + onnx_path + ") has " + std::to_string(cm.inputs().size()) + " inputs, expected " +
                                           std::to_string(inputs) + "; re-export the bundle");
        if (inputs != 1) return cm;
        ov::PartialShape ps = cm.input().get_partial_shape();
        if (ps.rank().is_static() && ps.rank().get_length() == 4 && ps.is_static()) {
            std::shared_ptr<ov::Model> model = core().read_model(onnx_path);
            model->reshape(ov::PartialShape{ov::Dimension::dynamic(), ps[1], ov::Dimension::dynamic(), ov::Dimension::dynamic()});
            cm = core().compile_model(model, "CPU", c);
        }
        return cm;
    };
    try {
        std::string cache = model_cache_dir();
        if (!cache.empty()) {
            ov::AnyMap cached = cfg;
            cached.emplace(ov::cache_dir.name(), cache);
            try {
                impl_->compiled = compile(cached);
                return;
            } catch (const Error &) {
                throw;
            } catch (const std::exception &) {
                // an unwritable cache folder must not stop inference: compile without it
            }
        }
        impl_->compiled = compile(cfg);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(QE_ERR_BUNDLE, "model " + name + ": OpenVINO cannot load " + onnx_path + " (" + e.what() + ")");
    }
}

Engine::~Engine() = default;

std::vector<float> Engine::run(const float *x, int n, int c, int h, int w, std::vector<size_t> &out_shape) const {
    return run({Input{x, {(size_t)n, (size_t)c, (size_t)h, (size_t)w}}}, out_shape);
}

std::vector<float> Engine::run(const std::vector<Input> &inputs, std::vector<size_t> &out_shape) const {
    try {
        ov::InferRequest req = impl_->compiled.create_infer_request();
        for (size_t k = 0; k < inputs.size(); k++)
            req.set_input_tensor(k, ov::Tensor(ov::element::f32, ov::Shape(inputs[k].shape), const_cast<float *>(inputs[k].data)));
        req.infer();
        ov::Tensor out = req.get_output_tensor();
        out_shape = out.get_shape();
        if (out.get_element_type() != ov::element::f32) throw Error(QE_ERR_INFERENCE, "model " + name_ + ": output is not float32");
        const float *p = out.data<const float>();
        return std::vector<float>(p, p + out.get_size());
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(QE_ERR_INFERENCE, "model " + name_ + ": inference failed (" + e.what() + ")");
    }
}

}  // namespace qe
