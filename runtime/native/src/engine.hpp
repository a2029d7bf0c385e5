// One model on OpenVINO's CPU plugin: an ONNX graph of the bundle (fp32, or the int8 QDQ form) compiled for fp32, bf16 or int8 inference, with dynamic
// batch and spatial size. Compiled models are shared by all threads; each call makes its own infer request.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace qe {

struct EngineImpl;

struct Input {
    const float *data;
    std::vector<size_t> shape;
};

class Engine {
  public:
    // inputs: the graph's number of inputs (1: an image model, made dynamic in batch and size if exported static)
    Engine(const std::string &onnx_path, const std::string &name, const std::string &precision, int threads, int inputs = 1);
    ~Engine();
    // x: n x c x h x w float; returns the first output (n x c' x h' x w'), its shape in out_shape.
    std::vector<float> run(const float *x, int n, int c, int h, int w, std::vector<size_t> &out_shape) const;
    // a multi-input graph: the inputs in the graph's order
    std::vector<float> run(const std::vector<Input> &inputs, std::vector<size_t> &out_shape) const;
    const std::string &precision() const { return precision_; }
    const std::string &name() const { return name_; }

  private:
    std::unique_ptr<EngineImpl> impl_;
    std::string name_, precision_;
};

}  // namespace qe
