#include "engine.hpp"

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

Engine::Engine(const std::string &onnx_path, const std::string &name, const std::string &precision, int threads)
    : impl_(std::make_unique<EngineImpl>()), name_(name), precision_(precision) {
    if (precision != "fp32" && precision != "bf16")
        throw Error(QE_ERR_INVALID_ARGUMENT, "precision '" + precision + "': the native runtime runs fp32 or bf16 (OpenVINO CPU)");
    try {
        std::shared_ptr<ov::Model> model = core().read_model(onnx_path);
        if (model->inputs().size() != 1)
            throw Error(QE_ERR_BUNDLE, "model " + name + " (" + onnx_path + ") has " + std::to_string(model->inputs().size()) +
                                           " inputs; the native SR runtime runs one-input image models");
        ov::PartialShape ps = model->input().get_partial_shape();
        if (ps.rank().is_static() && ps.rank().get_length() == 4) {
            ov::PartialShape dyn{ov::Dimension::dynamic(), ps[1], ov::Dimension::dynamic(), ov::Dimension::dynamic()};
            if (ps.is_static()) model->reshape(dyn);
        }
        ov::AnyMap cfg{ov::hint::inference_precision(precision == "bf16" ? ov::element::bf16 : ov::element::f32),
                       ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
        if (threads > 0) cfg.emplace(ov::inference_num_threads.name(), threads);
        impl_->compiled = core().compile_model(model, "CPU", cfg);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(QE_ERR_BUNDLE, "model " + name + ": OpenVINO cannot load " + onnx_path + " (" + e.what() + ")");
    }
}

Engine::~Engine() = default;

std::vector<float> Engine::run(const float *x, int n, int c, int h, int w, std::vector<size_t> &out_shape) const {
    try {
        ov::InferRequest req = impl_->compiled.create_infer_request();
        ov::Tensor in(ov::element::f32, ov::Shape{(size_t)n, (size_t)c, (size_t)h, (size_t)w}, const_cast<float *>(x));
        req.set_input_tensor(in);
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
